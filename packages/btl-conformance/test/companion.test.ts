import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { BtlEndpoint, BtlErrorEvent, BtlHost } from '@switchyard/btl-interface';
import { CompanionModule } from '../src/companion/module.js';

// The companion is the module the kit trusts while it judges another: its own loss reports must
// not depend on how a peer's close and the next send fall into the event loop's turns.

class RecordingHost implements BtlHost {
  readonly errors: BtlErrorEvent[] = [];
  readonly received: Array<[BtlEndpoint, number, Uint8Array]> = [];
  receive(endpoint: BtlEndpoint, tag: number, data: Uint8Array): void {
    this.received.push([endpoint, tag, Uint8Array.from(data)]);
  }
  writable(): void {}
  error(event: BtlErrorEvent): void {
    this.errors.push(event);
  }
  log(): void {}
}

const settings = { exclusivity: 0, latency: 1000, bandwidth: 1000, eagerLimit: 65536, maxSendSize: 262144, highWaterMark: 1 << 20 };
let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'sy-companion-test-'));
  process.env.SWITCHYARD_KIT_SCRATCH = scratch;
});
afterEach(() => {
  delete process.env.SWITCHYARD_KIT_SCRATCH;
  rmSync(scratch, { recursive: true, force: true });
});

async function pair() {
  const hosts = [new RecordingHost(), new RecordingHost()];
  const modules = await Promise.all(hosts.map((host, rank) =>
    CompanionModule.start({ component: 'kit_companion', jobId: 'job-1', rank, hostname: 'h', secret: 's3cret', host }, settings)));
  const endpoints = await Promise.all(modules.map((module, rank) =>
    module.addProcs([{ rank: 1 - rank, hostname: 'h', local: true, cards: [modules[1 - rank]!.businessCard] }])));
  return { hosts, modules, toPeer: endpoints.map((e) => e[0]!) };
}

const sent = (module: CompanionModule, endpoint: BtlEndpoint, data: Uint8Array) =>
  new Promise<Error | undefined>((resolve) => module.send(endpoint, 7, [data], resolve));

it('reports the link lost when a send fails on a socket the peer closed, before its close event', async () => {
  const { hosts, modules, toPeer } = await pair();
  expect(await sent(modules[0]!, toPeer[0]!, new Uint8Array([1, 2, 3]))).toBeUndefined();
  // Read by the peer before it closes: unread bytes would make its close a reset, which errors.
  await expect.poll(() => hosts[1]!.received.length).toBe(1);
  const socket = modules[0]!.peers.get(1)!.socket!;
  // Node ends its side once the peer's end is read; a write after that, before 'close', fails
  // through its callback alone, with no 'error' event.
  const late = new Promise<Error | undefined>((resolve) =>
    socket.once('finish', () => process.nextTick(() => void sent(modules[0]!, toPeer[0]!, new Uint8Array([4])).then(resolve))));
  await modules[1]!.finalize();
  expect(await late).toBeInstanceOf(Error);
  const lost = hosts[0]!.errors;
  expect(lost).toHaveLength(1);
  expect(lost[0]).toMatchObject({ severity: 'endpoint', endpoint: toPeer[0], module: modules[0] });
  expect(lost[0]!.error.message).toMatch(/connection to rank 1 failed/);
  await modules[0]!.finalize();
});

it('reports a lost link once, however many sends fail on it', async () => {
  const { hosts, modules, toPeer } = await pair();
  expect(await sent(modules[0]!, toPeer[0]!, new Uint8Array([1]))).toBeUndefined();
  await modules[1]!.finalize();
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => sent(modules[0]!, toPeer[0]!, new Uint8Array([i]))));
  // Those written before the close was read may have reached the kernel; the rest must fail.
  expect(results.some((r) => r instanceof Error)).toBe(true);
  await expect.poll(() => hosts[0]!.errors.length).toBe(1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(hosts[0]!.errors).toHaveLength(1);
  await modules[0]!.finalize();
});
