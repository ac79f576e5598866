import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ctl, startSteeredJob, type SteeredJob } from './helpers/ctl.js';
import { results } from './helpers/run-job.js';

// Where the one public prototype of dynamic BTLs crashed: the first message after moving back to
// a transport (a re-added module that missed its registrations). Each round here is the very
// next exchange after a verb, both directions, eager and rendezvous, on a 2-rank job.
const FAST_AND_TCP = ['--mca', 'btl', 'openib,tcp,self', '--mca', 'btl_openib_provider', 'soft'];

type Round = { rank: number; round: number; got: Record<string, string[]>; carried: Record<string, { sent: number; received: number }> };

let job: SteeredJob | undefined;
afterEach(() => {
  job?.kill();
  job = undefined;
});

async function verb(jobId: string, ...args: string[]) {
  const out = await ctl(['--job', jobId, ...args, '--json']);
  if (out.code !== 0) throw new Error(`ctl ${args.join(' ')} failed (${out.code}): ${out.stderr}${out.stdout}`);
  expect(out.json).toMatchObject({ ok: true, outcome: 'done' });
}

/** Starts round `k` on both ranks and returns what each reported (its RESULT line). */
async function exchange(j: SteeredJob, k: number): Promise<Round[]> {
  writeFileSync(join(j.dir, `go-${k}`), '');
  const deadline = Date.now() + 30_000;
  for (;;) {
    const reported = results<Round>(j.output()).filter((x) => x.round === k);
    if (reported.length === 2) return reported.sort((a, b) => a.rank - b.rank);
    if (Date.now() > deadline) throw new Error(`round ${k} did not finish:\n${j.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Both ranks got both messages intact, and only `btl` carried them, both ways. */
function expectCarriedBy(rounds: Round[], btl: string) {
  expect(rounds.map((r) => r.got)).toEqual([{ 1: ['ok', 'ok'] }, { 0: ['ok', 'ok'] }]);
  for (const r of rounds) {
    expect(Object.keys(r.carried), JSON.stringify(rounds)).toEqual([btl]);
    expect(r.carried[btl]!.sent).toBeGreaterThan(0);
    expect(r.carried[btl]!.received, JSON.stringify(rounds)).toBeGreaterThan(0);
  }
}

describe('the first message after switching back', () => {
  it('arrives on the fast transport, both ways, after switch, unload/load and checkpoint', async () => {
    job = await startSteeredJob(['-n', '2', ...FAST_AND_TCP], 'switch-back.mjs');
    let k = 0;
    expectCarriedBy(await exchange(job, k++), 'openib');
    const moves: Array<[string[], string[]]> = [
      [['switch', 'tcp'], ['reset']],
      [['unload', 'openib'], ['load', 'openib']],
      [['checkpoint', 'prepare'], ['checkpoint', 'continue']],
      [['switch', 'tcp', '--ranks', '1'], ['reset', '--ranks', '1']],
    ];
    for (const [away, back] of moves) {
      await verb(job.jobId, ...away);
      expectCarriedBy(await exchange(job, k++), 'tcp');
      await verb(job.jobId, ...back);
      expectCarriedBy(await exchange(job, k++), 'openib');
    }
    const out = await job.stop();
    expect(out.code).toBe(0);
  }, 120_000);
});
