import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ctl, startSteeredJob, type SteeredJob } from './helpers/ctl.js';
import { results } from './helpers/run-job.js';

// Issue 11: a rank that computes for seconds without calling the runtime still shows in
// `ctl status` (busy in application code, for how long), and a verb issued meanwhile waits for
// it instead of failing; it takes effect at the rank's next call into the runtime.
const FAST_AND_TCP = ['--mca', 'btl', 'openib,tcp,self', '--mca', 'btl_openib_provider', 'soft'];
const BUSY_RANK = 1;
/** Longer than the 10 s a rank gets to answer prepare by default. */
const LONG_COMPUTE_MS = 12_000;

type Round = { rank: number; round: number; got: Record<string, string[]>; carried: string[] };

let job: SteeredJob | undefined;
afterEach(() => {
  job?.kill();
  job = undefined;
});

const file = (name: string) => join(job!.dir, name);

/** Starts round `k` (with BUSY_RANK computing `busyMs` first, if given) without waiting for it. */
function startRound(k: number, busyMs?: number): void {
  if (busyMs !== undefined) writeFileSync(file(`busy-${k}`), String(busyMs));
  writeFileSync(file(`go-${k}`), '');
}

/** What every rank reported for round `k`, once all did; every message arrived intact. */
async function roundDone(k: number): Promise<Round[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const reported = results<Round>(job!.output()).filter((x) => x.round === k);
    if (reported.length === 3) {
      for (const r of reported) expect(Object.values(r.got).flat(), JSON.stringify(r)).toEqual(['ok', 'ok', 'ok', 'ok']);
      return reported.sort((a, b) => a.rank - b.rank);
    }
    if (Date.now() > deadline) throw new Error(`round ${k} did not finish:\n${job!.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs round `k`, no rank busy: which transports carried each rank's traffic. */
async function exchange(k: number): Promise<string[][]> {
  startRound(k);
  return (await roundDone(k)).map((r) => r.carried);
}

async function until(what: string, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a rank busy in application code', () => {
  it('shows in ctl status as busy, and a switch issued meanwhile waits for it and completes after', async () => {
    job = await startSteeredJob(['-n', '3', ...FAST_AND_TCP], 'busy.mjs', (dir) => [dir, String(BUSY_RANK)]);
    const { jobId } = job;
    expect(await exchange(0)).toEqual([['openib'], ['openib'], ['openib']]);

    startRound(1, LONG_COMPUTE_MS);
    await until('the busy rank to start computing', () => existsSync(file('busy-started-1')));
    const status = await ctl(['--job', jobId, 'status', '--json']);
    // Answered while the rank was still computing.
    expect(existsSync(file('busy-ended-1'))).toBe(false);
    expect(status.code, status.stderr).toBe(0);
    const busy = status.json.ranks[BUSY_RANK];
    expect(busy.busy.forMs).toBeGreaterThan(0);
    expect(busy.components.map((c: { name: string }) => c.name).sort()).toEqual(['openib', 'self', 'tcp']);
    expect(status.json.ranks.filter((r: { busy?: unknown }) => r.busy).map((r: { rank: number }) => r.rank)).toEqual([BUSY_RANK]);
    const text = await ctl(['--job', jobId, 'status']);
    expect(text.stdout).toMatch(new RegExp(`rank ${BUSY_RANK} \\(pid \\d+ on [^)]+\\):\\n  busy in application code for \\d+\\.\\d s`));

    const switching = ctl(['--job', jobId, 'switch', 'tcp', '--json']);
    // While it waits, the verb's progress names the busy rank.
    let progress: string | undefined;
    while (!progress && !existsSync(file('busy-ended-1'))) {
      const during = await ctl(['--job', jobId, 'status']);
      progress = /verb in progress: (.*)/.exec(during.stdout)?.[1];
      if (progress && !progress.includes('waiting for rank')) progress = undefined;
    }
    expect(progress).toMatch(new RegExp(`^switch tcp: prepare 2/3 ranks; waiting for rank ${BUSY_RANK}: busy in application code for \\d+\\.\\d s$`));
    const switched = await switching;
    expect(switched.json, switched.stderr).toMatchObject({ ok: true, outcome: 'done' });
    // Longer than a rank's default time to answer, and it took effect once the rank was done.
    expect(existsSync(file('busy-ended-1'))).toBe(true);
    await roundDone(1);
    expect(await exchange(2)).toEqual([['tcp'], ['tcp'], ['tcp']]);

    // --timeout still bounds a verb: a rank that stays busy longer makes it fail, naming the rank.
    startRound(3, 4000);
    await until('the busy rank to start computing again', () => existsSync(file('busy-started-3')));
    const bounded = await ctl(['--job', jobId, 'reset', '--timeout', '1500', '--json']);
    expect(bounded.code).toBe(1);
    expect(bounded.json).toMatchObject({ ok: false, outcome: 'refused', errors: [{ rank: BUSY_RANK, message: `rank ${BUSY_RANK} did not answer within 1500 ms` }] });
    await roundDone(3);
    // Nothing changed; the same verb without --timeout then goes through.
    expect(await exchange(4)).toEqual([['tcp'], ['tcp'], ['tcp']]);
    expect((await ctl(['--job', jobId, 'reset', '--json'])).json).toMatchObject({ ok: true, outcome: 'done' });
    expect(await exchange(5)).toEqual([['openib'], ['openib'], ['openib']]);

    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
  }, 150_000);
});
