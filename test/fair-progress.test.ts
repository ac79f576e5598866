import { afterEach, describe, expect, it } from 'vitest';
import { ctl, startSteeredJob, type SteeredJob } from './helpers/ctl.js';
import { results } from './helpers/run-job.js';
import { verb } from './helpers/traffic-checks.js';

// An application written the natural way (isend to every peer, then await each send, round
// after round, nothing yielding on purpose) must not starve its own event loop: every rank
// progresses at a similar pace, `ctl status` gets an answer from every rank within seconds,
// and verbs run while it computes. The traffic is on tcp, whose sends complete at once.
type Tight = { rank: number; rounds: number; sent: number; received: number[]; owed: number[]; errors: number };

let job: SteeredJob | undefined;
afterEach(() => {
  job?.kill();
  job = undefined;
});

/**
 * `ctl status` where every rank must answer within a few seconds: a starved rank answers nothing
 * while the loop runs (a minute and more). Not one second: with 8 ranks on 2 cores beside the
 * rest of the suite, a rank's loop was seen held 2.0 s at once (load average 9), twice in four runs.
 */
async function statusWithinSeconds(jobId: string) {
  const out = await ctl(['--job', jobId, 'status', '--timeout', '4000', '--json']);
  // What a rank that did not answer said instead, if anything (the JSON has it, stderr not).
  const failed = ((out.json?.ranks ?? []) as Array<{ rank: number; error?: string }>).filter((r) => r.error);
  expect(out.code, out.stderr + failed.map((r) => `rank ${r.rank}: ${r.error}`).join('; ')).toBe(0);
  expect(out.json.ranks).toHaveLength(8);
}

describe('fair progress in a tight send loop', () => {
  it('8 ranks over tcp: each sends within 3x of every other, status answers, verbs complete; every message once, in order', async () => {
    job = await startSteeredJob(
      ['-n', '8', '--mca', 'btl', 'tcp,self', '--mca', 'btl_openib_provider', 'soft'],
      'tight-loop.mjs',
      (dir) => [`${dir}/stop`, `${dir}/ready`],
    );
    await statusWithinSeconds(job.jobId);
    // The whole cycle while the loop runs: a fast transport in, traffic moved, out, in again, a checkpoint.
    for (const v of [
      ['load', 'openib'],
      ['switch', 'tcp'],
      ['unload', 'openib'],
      ['load', 'openib'],
      ['checkpoint', 'prepare'],
      ['checkpoint', 'continue'],
      ['switch', 'tcp'],
    ]) {
      expect(await verb(job.jobId, ...v), v.join(' ')).toMatchObject({ ok: true, outcome: 'done' });
      await statusWithinSeconds(job.jobId);
    }
    const out = await job.stop(90_000);
    expect(out.code, out.stderr).toBe(0);
    const r = results<Tight>(out.stdout).sort((a, b) => a.rank - b.rank);
    expect(r).toHaveLength(8);
    for (const x of r) {
      expect(x.errors).toBe(0);
      expect(x.received).toEqual(x.owed);
    }
    const sent = r.map((x) => x.sent);
    // A starved rank sends next to nothing (the fault this guards against); 8 ranks sharing 2 cores
    // with the rest of the suite spread 2.07x once (125,664 / 90,671 / 69,041 / ... / 142,625).
    expect(Math.max(...sent) / Math.min(...sent), `messages sent per rank: ${sent.join(', ')}`).toBeLessThanOrEqual(3);
  }, 240_000);
});
