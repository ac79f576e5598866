import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BtlModule, BtlProc } from '@switchyard/btl-interface';
import component from '../examples/btl-uds/src/index.js';
// The BtlHost double the first-party BTLs' tests use: it records what a module tells the BML.
import { RecordingHost } from '../packages/btl-tcp/test/helpers.js';

// The uds module's own guarantees, two ranks in one process: what arrives, back-pressure, and
// what happens when a peer is gone or is not of this job. (The conformance kit checks the
// contract again with real ranks.)

const DEFAULTS: Record<string, unknown> = {
  dir: '',
  exclusivity: 200,
  latency: 50,
  bandwidth: 1,
  eager_limit: 64 * 1024,
  max_send_size: 256 * 1024,
  high_water_mark: 1 << 20,
  handshake_timeout: 2000,
};
const modules: BtlModule[] = [];
afterEach(async () => {
  await Promise.all(modules.splice(0).map((m) => m.finalize()));
});

async function rank(r: number, options: { secret?: string; settings?: Record<string, unknown> } = {}) {
  const settings = { ...DEFAULTS, ...options.settings };
  const host = new RecordingHost();
  const params = { get: <T>(n: string) => settings[n] as T, fullName: (n: string) => `btl_uds_${n}` };
  const [module] = await component.init({
    jobId: 'job-1',
    rank: r,
    size: 2,
    hostname: 'here',
    secret: options.secret ?? 'sesame',
    params,
    host,
    log: () => {},
  });
  modules.push(module!);
  return { module: module!, host };
}

const proc = (r: number, module: BtlModule): BtlProc => ({
  rank: r,
  hostname: 'here',
  local: true,
  cards: [JSON.parse(JSON.stringify(module.businessCard))],
});

async function pair(options: Parameters<typeof rank>[1] = {}, second: Parameters<typeof rank>[1] = options) {
  const a = await rank(0, options);
  const b = await rank(1, second);
  const [toB] = await a.module.addProcs([proc(1, b.module)]);
  const [toA] = await b.module.addProcs([proc(0, a.module)]);
  return { a, b, toB: toB!, toA: toA! };
}

const until = async (what: () => boolean, label: string) => {
  for (let i = 0; i < 500 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(what(), label).toBe(true);
};

describe('btl-uds module', () => {
  it('delivers fragments of every size up to max_send_size, whole and in order, and completes each send', async () => {
    const { a, b, toB } = await pair();
    const sizes = [0, 1, 7, 1000, 64 * 1024, 256 * 1024];
    const done: Array<Error | undefined> = [];
    sizes.forEach((size, i) =>
      a.module.send(toB, 0x40 + i, [Buffer.alloc(Math.min(size, 3), i), Buffer.alloc(Math.max(0, size - 3), i + 1)], (e) => done.push(e)),
    );
    await a.module.flush(toB);
    expect(done).toEqual(sizes.map(() => undefined));
    await until(() => b.host.received.length === sizes.length, 'every fragment arrived');
    expect(b.host.received.map((f) => [f.from, f.tag, f.data.length])).toEqual(sizes.map((s, i) => [0, 0x40 + i, s]));
    expect(b.host.received.every((f, i) => f.data.subarray(3).every((x) => x === i + 1))).toBe(true);
  });

  it('refuses a fragment above max_send_size with done(error), not a throw', async () => {
    const { a, toB } = await pair();
    const error = await new Promise<Error | undefined>((resolve) => a.module.send(toB, 0x40, [Buffer.alloc(256 * 1024 + 1)], resolve));
    expect(error?.message).toMatch(/fragment of 262145 bytes exceeds max_send_size 262144/);
  });

  it('returns false above the high-water mark, then calls writable, and loses nothing', async () => {
    const { a, b, toB } = await pair({ settings: { high_water_mark: 128 * 1024 } });
    const accepted: boolean[] = [];
    for (let i = 0; i < 64; i++) accepted.push(a.module.send(toB, 0x41, [Buffer.alloc(16 * 1024, i)]));
    expect(accepted.indexOf(false)).toBeGreaterThan(0);
    await until(() => a.host.writables.includes(1), 'writable after the queue drained');
    await until(() => b.host.received.length === 64, 'all 64 fragments arrived');
    expect(b.host.received.map((f) => f.data[0])).toEqual([...Array(64).keys()]);
  });

  it('completes a stream of 20,000 small fragments sent in one run without shifting a queue that long', async () => {
    // Their write callbacks all run in one go: an Array.prototype.shift per callback on the frames
    // in flight is linear each time (V8 stops trimming long arrays), and held the rank's loop for
    // seconds, reading nothing, so its peers' fragments came late (the kit's soak failed on a loaded
    // machine). Counted, not timed: the longest array shifted while the stream completes.
    const { a, b, toB } = await pair();
    const count = 20_000;
    const shift = Array.prototype.shift;
    let longest = 0;
    Array.prototype.shift = function <T>(this: T[]) {
      longest = Math.max(longest, this.length);
      return shift.call(this) as T | undefined;
    };
    let done = 0;
    try {
      for (let i = 0; i < count; i++) a.module.send(toB, 0x42, [Buffer.alloc(20, i & 0xff)], () => void (done += 1));
      await a.module.flush(toB);
    } finally {
      Array.prototype.shift = shift;
    }
    expect(done).toBe(count);
    expect(longest).toBeLessThan(1000);
    await until(() => b.host.received.length === count, 'every fragment arrived');
  });

  it('reports a peer that is gone to the BML and fails the pending sends', async () => {
    const { a, b, toB } = await pair();
    await b.module.finalize();
    const error = await new Promise<Error | undefined>((resolve) => a.module.send(toB, 0x40, [Buffer.from('hello')], resolve));
    expect(error?.message).toMatch(/btl uds: the connection to rank 1 .* failed: .*(ENOENT|ECONNREFUSED)/);
    expect(a.host.errors).toHaveLength(1);
    expect(a.host.errors[0]).toMatchObject({ severity: 'endpoint', endpoint: toB, module: a.module });
  });

  it('does not accept a caller without the job secret', async () => {
    const { a, b, toB } = await pair({ secret: 'sesame' }, { secret: 'guess' });
    const error = await new Promise<Error | undefined>((resolve) => a.module.send(toB, 0x40, [Buffer.from('hello')], resolve));
    expect(error).toBeInstanceOf(Error);
    await until(() => b.host.logs.some((l) => /authentication failed for a caller claiming rank 0 \(wrong job secret\)/.test(l)), 'the refusal is logged');
    expect(b.host.received).toEqual([]);
  });

  it('holds a caller whose rank addProcs has not added yet, and accepts it once added', async () => {
    const a = await rank(0);
    const b = await rank(1);
    const [toB] = await a.module.addProcs([proc(1, b.module)]);
    a.module.send(toB!, 0x42, [Buffer.from('early')]);
    await until(() => b.host.logs.some((l) => l.includes('holding a connection from rank 0')), 'the caller is held');
    await b.module.addProcs([proc(0, a.module)]);
    await until(() => b.host.received.length === 1, 'the held fragment arrives');
    expect(b.host.received[0]!.data.toString()).toBe('early');
  });

  it('removes its socket folder at finalize', async () => {
    const { module } = await rank(0);
    const dir = dirname((module.businessCard as { path: string }).path);
    expect(existsSync(dir)).toBe(true);
    await module.finalize();
    expect(existsSync(dir)).toBe(false);
  });
});
