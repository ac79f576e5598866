import { hostname } from 'node:os';
import type { BtlEndpoint, BtlErrorEvent, BtlHost, BtlInitContext, BtlModule, BtlProc } from '@switchyard/btl-interface';
import { component } from '../../src/btl/component.js';
import { registerParams } from '../../src/btl/params.js';

type ComponentParams = BtlInitContext['params'];

/** The component's parameters with their defaults, some overridden (as the MCA layer would hand them over). */
export function openibParams(overrides: Record<string, unknown> = {}): ComponentParams {
  const values = new Map<string, unknown>();
  registerParams({
    framework: 'btl',
    component: 'openib',
    param: (spec) => {
      values.set(spec.name, spec.default);
      return undefined as never;
    },
  });
  for (const [k, v] of Object.entries(overrides)) {
    if (!values.has(k)) throw new Error(`no parameter btl_openib_${k}`);
    values.set(k, v);
  }
  return { get: <T>(name: string) => values.get(name) as T, fullName: (name) => `btl_openib_${name}` };
}

export interface Received {
  readonly from: number;
  readonly tag: number;
  readonly data: Buffer;
}

/** A BtlHost that records what the module tells it. */
export class RecordingHost implements BtlHost {
  readonly received: Received[] = [];
  readonly errors: BtlErrorEvent[] = [];
  readonly writables: number[] = [];
  readonly logs: string[] = [];
  receive(endpoint: BtlEndpoint, tag: number, data: Uint8Array): void {
    this.received.push({ from: endpoint.rank, tag, data: Buffer.from(data) });
  }
  writable(endpoint: BtlEndpoint): void {
    this.writables.push(endpoint.rank);
  }
  error(event: BtlErrorEvent): void {
    this.errors.push(event);
  }
  log(message: string): void {
    this.logs.push(message);
  }
}

export interface Rank {
  readonly rank: number;
  readonly module: BtlModule;
  readonly host: RecordingHost;
  endpoints: Array<BtlEndpoint | undefined>;
}

/** `size` ranks of one job in this process, each with its own openib module (its own soft device). */
export async function initRanks(size: number, overrides: Record<string, unknown> = {}): Promise<Rank[]> {
  const ranks: Rank[] = [];
  for (let rank = 0; rank < size; rank++) {
    const host = new RecordingHost();
    const ctx: BtlInitContext = {
      jobId: 'test',
      rank,
      size,
      hostname: hostname(),
      secret: 'secret',
      params: openibParams({ provider: 'soft', ...overrides }),
      host,
      log: (m) => host.log(m),
    };
    const modules = await component.init(ctx);
    if (modules.length !== 1) throw new Error(`expected one module, got ${modules.length}`);
    ranks.push({ rank, module: modules[0]!, host, endpoints: [] });
  }
  return ranks;
}

/** The procs a rank's addProcs gets: everyone, on this host, with the cards they published. */
export function procsOf(ranks: readonly Rank[]): BtlProc[] {
  return ranks.map((r) => ({ rank: r.rank, hostname: hostname(), local: true, cards: [r.module.businessCard] }));
}

export async function addAll(ranks: readonly Rank[]): Promise<void> {
  const procs = procsOf(ranks);
  await Promise.all(ranks.map(async (r) => (r.endpoints = await r.module.addProcs(procs))));
}

export async function finalizeAll(ranks: readonly Rank[]): Promise<void> {
  await Promise.all(ranks.map((r) => r.module.finalize()));
}
