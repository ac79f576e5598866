import { expect } from 'vitest';
import { ctl } from './ctl.js';
import { results } from './run-job.js';

type Traffic = { rank: number; iterations: number; received: number[]; errors: number };

/** Every rank of a traffic.mjs job got every other rank's messages, each exactly once and in order, intact. */
export function expectExactlyOnceInOrder(stdout: string, size: number) {
  const r = results<Traffic>(stdout).sort((a, b) => a.rank - b.rank);
  expect(r).toHaveLength(size);
  for (const x of r) {
    expect(x.errors).toBe(0);
    // Iterations are lockstep (the allreduce), so every peer's count equals ours.
    expect(x.received).toEqual(Array.from({ length: size }, (_, peer) => (peer === x.rank ? 0 : x.iterations)));
  }
}

/** `switchyard ctl --job ID ARGS --json`, which must succeed; its JSON. */
export async function verb(jobId: string, ...args: string[]) {
  const out = await ctl(['--job', jobId, ...args, '--json']);
  if (out.code !== 0) throw new Error(`ctl ${args.join(' ')} failed (${out.code}): ${out.stderr}${out.stdout}`);
  return out.json;
}

/** Per rank, per peer: the components of its send list (`a+b` when striped). */
export async function sendLists(jobId: string): Promise<string[][]> {
  const status = await verb(jobId, 'status');
  return status.ranks.map((r: any) => r.peers.map((p: any) => p.send.map((s: string) => s.split(':')[0]).join('+')));
}
