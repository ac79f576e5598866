import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ctl as runCtl, startSteeredJob, type SteeredJob } from './helpers/ctl.js';
import { CLI, FIXTURES, results } from './helpers/run-job.js';
import { spawn } from 'node:child_process';
import { pmixSkipReason, spawnMpirun } from './helpers/run-mpirun.js';
import { resetTcpConnections, tcpResetSkipReason } from './helpers/tcp-reset.js';

// Issue 11: a rank that computes for seconds without calling the runtime still shows in
// `ctl status` (busy in application code, for how long), and a verb issued meanwhile waits for
// it instead of failing; it takes effect when the rank's code next waits.
const FAST_AND_TCP = ['--mca', 'btl', 'openib,tcp,self', '--mca', 'btl_openib_provider', 'soft'];
/** Longer than the 10 s a rank gets to answer prepare by default. */
const LONG_COMPUTE_MS = 12_000;

type Round = { rank: number; round: number; got: Record<string, string[]>; carried: string[] };

let job: SteeredJob | undefined;
/** The environment `switchyard ctl` finds the job with. */
let ctlEnv: NodeJS.ProcessEnv = {};
afterEach(() => {
  job?.kill();
  job = undefined;
  ctlEnv = {};
});

const ctl = (args: string[]) => runCtl(['--job', job!.jobId, ...args], 90_000, ctlEnv);
const file = (name: string) => join(job!.dir, name);

/** Starts round `k` (with the busy rank computing `busyMs` first, if given) without waiting for it. */
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
    if (Date.now() > deadline) throw new Error(`round ${k} did not finish:\n${job!.output()}\nstderr:\n${job!.errorOutput()}`);
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

/**
 * Round 1: `busyRank` computes for LONG_COMPUTE_MS. `ctl status` meanwhile shows it busy; a
 * `switch tcp` meanwhile waits for it (progress naming it) and is done after; round 2 is on tcp.
 */
async function statusAndSwitchWhileBusy(busyRank: number): Promise<void> {
  expect(await exchange(0)).toEqual([['openib'], ['openib'], ['openib']]);
  startRound(1, LONG_COMPUTE_MS);
  await until('the busy rank to start computing', () => existsSync(file('busy-started-1')));
  const status = await ctl(['status', '--json']);
  // Answered while the rank was still computing.
  expect(existsSync(file('busy-ended-1'))).toBe(false);
  expect(status.code, status.stderr).toBe(0);
  const busy = status.json.ranks[busyRank];
  expect(busy.busy.forMs).toBeGreaterThan(0);
  expect(busy.components.map((c: { name: string }) => c.name).sort()).toEqual(['openib', 'self', 'tcp']);
  const text = await ctl(['status']);
  expect(text.stdout).toMatch(new RegExp(`rank ${busyRank} \\(pid \\d+ on [^)]+\\):\\n  busy in application code for \\d+\\.\\d s`));

  const switching = ctl(['switch', 'tcp', '--json']);
  // While it waits, the verb's progress names the busy rank.
  let progress: string | undefined;
  while (!progress && !existsSync(file('busy-ended-1'))) {
    const during = await ctl(['status']);
    progress = /verb in progress: (.*)/.exec(during.stdout)?.[1];
    if (progress && !progress.includes('waiting for rank')) progress = undefined;
  }
  expect(progress).toMatch(
    new RegExp(`^switch tcp: prepare [0-2]/3 ranks; waiting for rank ${busyRank}: busy in application code for \\d+\\.\\d s$`),
  );
  const switched = await switching;
  expect(switched.json, switched.stderr).toMatchObject({ ok: true, outcome: 'done' });
  // Its stderr is a pipe here, as in a script's log: it said, in a whole line, whom it waited for.
  const waitLine = `^switchyard ctl: switch tcp: (prepare|commit) [0-2]/3 ranks; waiting for rank ${busyRank}: busy in application code`;
  expect(switched.stderr).toMatch(new RegExp(`${waitLine} for \\d+\\.\\d s$`, 'm'));
  // Longer than a rank's default time to answer, and it took effect once the rank was done.
  expect(existsSync(file('busy-ended-1'))).toBe(true);
  await roundDone(1);
  expect(await exchange(2)).toEqual([['tcp'], ['tcp'], ['tcp']]);
}

describe('a rank busy in application code', () => {
  it('shows in ctl status as busy; a switch issued meanwhile waits for it, unless --timeout bounds it', async () => {
    job = await startSteeredJob(['-n', '3', ...FAST_AND_TCP], 'busy.mjs', (dir) => [dir, '1']);
    await statusAndSwitchWhileBusy(1);

    // --timeout still bounds a verb: a rank that stays busy longer makes it fail, naming the rank.
    // Long enough that the rank is still busy when the 1.5 s are up, however slow ctl starts.
    startRound(3, 6000);
    await until('the busy rank to start computing again', () => existsSync(file('busy-started-3')));
    const bounded = await ctl(['reset', '--timeout', '1500', '--json']);
    expect(bounded.code).toBe(1);
    expect(bounded.json).toMatchObject({
      ok: false,
      outcome: 'refused',
      // It says why: the rank is computing, not lost.
      errors: [
        {
          rank: 1,
          message: expect.stringMatching(/^rank 1 did not answer within 1500 ms: it is busy in application code \(its main thread has not yielded for \d+\.\d s\)$/),
        },
      ],
    });
    await roundDone(3);
    // Nothing changed; the same verb without --timeout then goes through.
    expect(await exchange(4)).toEqual([['tcp'], ['tcp'], ['tcp']]);
    expect((await ctl(['reset', '--json'])).json).toMatchObject({ ok: true, outcome: 'done' });
    expect(await exchange(5)).toEqual([['openib'], ['openib'], ['openib']]);

    // Ctrl-C of a ctl waiting for the busy rank ends the command, not the verb, and says so.
    startRound(6, 6000);
    await until('the busy rank to start computing a third time', () => existsSync(file('busy-started-6')));
    const waiting = spawn(process.execPath, [CLI, 'ctl', '--job', job.jobId, 'switch', 'tcp'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let said = '';
    waiting.stderr.on('data', (d) => (said += d));
    const ended = new Promise<number | null>((r) => waiting.on('close', (code) => r(code)));
    // Sent, and waiting for the busy rank's answer to prepare (the job's status shows it).
    let inProgress = false;
    while (!inProgress && !existsSync(file('busy-ended-6'))) inProgress = /verb in progress: switch tcp/.test((await ctl(['status'])).stdout);
    expect(inProgress, 'the verb was in progress while the rank computed').toBe(true);
    waiting.kill('SIGINT');
    expect(await ended).toBe(130);
    expect(said).toMatch(new RegExp(`SIGINT: 'switch tcp' goes on in job ${job.jobId} .*'switchyard ctl --job ${job.jobId} status' shows`));
    await roundDone(6);
    expect(await exchange(7)).toEqual([['tcp'], ['tcp'], ['tcp']]);

    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
  }, 150_000);

  it.skipIf(pmixSkipReason() !== undefined)('under mpirun, is the controlling rank 0 itself, and ctl is still answered', async () => {
    const state = mkdtempSync(join(tmpdir(), 'sy-state-'));
    ctlEnv = { XDG_STATE_HOME: state };
    try {
      const env = { ...ctlEnv, SWITCHYARD_MCA_btl: 'openib,tcp,self', SWITCHYARD_MCA_btl_openib_provider: 'soft' };
      job = await startSteeredJob(
        (command) => spawnMpirun(3, [process.execPath, ...command], { cwd: FIXTURES, env, timeoutMs: 120_000 }),
        'busy.mjs',
        (dir) => [dir, '0'],
      );
      await statusAndSwitchWhileBusy(0);
      const out = await job.stop();
      expect(out.code, out.stderr).toBe(0);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 150_000);
});

describe('a verb without --timeout whose commit a stopped rank never joins', () => {
  it('ends once the commit\'s time is up, naming the stopped rank; the others are rolled back, and it after SIGCONT', async () => {
    const tcpAndSoftOpenib = ['--mca', 'btl', 'tcp,self', '--mca', 'btl_openib_provider', 'soft'];
    job = await startSteeredJob(['-n', '3', ...tcpAndSoftOpenib], 'busy.mjs', (dir) => [dir, '0']);
    expect(await exchange(0)).toEqual([['tcp'], ['tcp'], ['tcp']]);
    const pid: number = (await ctl(['status', '--json'])).json.ranks[2].pid;
    // Rank 0 computes, so the patient verb waits in prepare after ranks 1 and 2 answered: rank 2
    // is stopped then, as an operator's Ctrl-Z or a debugger would, between its prepare and commit.
    startRound(1, 8000);
    await until('the busy rank to start computing', () => existsSync(file('busy-started-1')));
    const loading = ctl(['load', 'openib', '--json']);
    let progress: string | undefined;
    while (!progress?.includes('prepare 2/3 ranks; waiting for rank 0')) {
      progress = /verb in progress: (.*)/.exec((await ctl(['status'])).stdout)?.[1];
    }
    process.kill(pid, 'SIGSTOP');
    try {
      expect(existsSync(file('busy-ended-1'))).toBe(false);
      const started = Date.now();
      const loaded = await loading;
      // Bounded by the commit's 60 s (its exchange closed 2 s before), not by rank 2 resuming, and
      // not another 60 s waiting for its rollback.
      expect(Date.now() - started).toBeLessThan(80_000);
      expect(loaded.json, loaded.stderr).toMatchObject({ ok: false, outcome: 'failed' });
      const stopped = `its process (pid ${pid}) is stopped (SIGSTOP, Ctrl-Z or a debugger); 'kill -CONT ${pid}' resumes it`;
      const closed = loaded.json.errors.find((e: { code?: string }) => e.code === 'ERR_CTL_STEP_CLOSED');
      expect(closed?.message).toMatch(/^ranks 0-1: fence 'ctl-\d+-commit:load:fresh' \(generation 1\) cannot complete: the commit of 'load openib' gave up/);
      expect(closed?.message).toContain(`rank 2 did not join it (${stopped})`);
      // The ranks that waited in the exchange are known to be as before; rank 2 undoes its part when it resumes.
      expect(loaded.json.ranks.map((r: { rank: number; state: string }) => [r.rank, r.state])).toEqual([
        [0, 'unchanged'],
        [1, 'unchanged'],
        [2, 'unknown'],
      ]);
      expect(loaded.json.ranks[2].error).toContain(`${stopped}; it carries out the rollback when it resumes`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // Resumed, rank 2 fails the closed exchange at once: openib is loaded nowhere, nothing is pending, nothing was lost.
    await roundDone(1);
    const after = (await ctl(['status', '--json'])).json;
    for (const r of after.ranks) {
      expect(r.components.map((c: { name: string }) => c.name).sort(), JSON.stringify(r)).toEqual(['self', 'tcp']);
      expect(r.pendingVerb).toBeUndefined();
    }
    expect(await exchange(2)).toEqual([['tcp'], ['tcp'], ['tcp']]);
    // And the same verb then goes through on every rank.
    expect((await ctl(['load', 'openib', '--json'])).json).toMatchObject({ ok: true, outcome: 'done' });
    expect(await exchange(3)).toEqual([['openib'], ['openib'], ['openib']]);
    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
  }, 180_000);
});

describe('a verb issued while a rank is busy, which then finalizes at once', () => {
  it('is carried out by every rank before the transports close, or by none; finalize does not wait on a drain', async () => {
    job = await startSteeredJob(['-n', '2', '--mca', 'btl', 'sm,tcp,self'], 'busy-then-finalize.mjs', (dir) => [dir, '1']);
    writeFileSync(file('go'), '3000');
    await until('the busy rank to start computing', () => existsSync(file('busy-started')));
    const switched = await ctl(['switch', 'tcp', '--json']);
    if (switched.json?.outcome === 'refused') {
      // Rank 1 reached finalize before it read the prepare: no rank changed anything.
      expect(switched.json.errors).toEqual([expect.objectContaining({ rank: 1, message: expect.stringMatching(/finalizing/) })]);
    } else {
      expect(switched.json, switched.stderr).toMatchObject({ ok: true, outcome: 'done' });
      // Both sides of the link moved, not only the rank that was waiting.
      expect(switched.json.changes).toEqual([
        { rank: 0, changes: ['drained sm->1'] },
        { rank: 1, changes: ['drained sm->0'] },
      ]);
    }
    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).not.toMatch(/drain timed out/);
  }, 90_000);
});

describe.skipIf(tcpResetSkipReason() !== undefined)('tcp connections reset while a rank is busy in application code', () => {
  it('the others wait for it beyond bml_peer_timeout (the launcher knows it is alive); it reconnects when done, nothing lost', async () => {
    job = await startSteeredJob(['-n', '3', '--mca', 'btl', 'tcp,self', '--mca', 'bml_peer_timeout', '1500'], 'busy.mjs', (dir) => [
      dir,
      '1',
    ]);
    expect(await exchange(0)).toEqual([['tcp'], ['tcp'], ['tcp']]);
    const pids = (await ctl(['status', '--json'])).json.ranks.map((r: { pid: number }) => r.pid);
    // Busy for several peer timeouts: its links cannot be brought back until it is done.
    startRound(1, 6000);
    await until('the busy rank to start computing', () => existsSync(file('busy-started-1')));
    expect(resetTcpConnections(pids), 'connections reset').toBeGreaterThan(0);
    await roundDone(1);
    expect(await exchange(2)).toEqual([['tcp'], ['tcp'], ['tcp']]);
    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
  }, 90_000);
});
