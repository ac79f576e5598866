import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connectTool, type ToolClient } from '@switchyard/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRankStatusFailure, type CtlStatus } from '../src/coordinator.js';
import { TOOL_CTL, TOOL_CTL_PROGRESS, TOOL_CTL_STATUS, type RankStatus, type VerbProgress, type VerbResult } from '../src/protocol.js';
import { isAlive, killLeftovers, privateJobsFolder, startFakeJob, type FakeJob } from './fixtures/ctl-harness.js';

// The coordinator against real ranks (at most 4) whose fake agent records every phase it sees.
// Every job is stopped by the test that started it; afterAll kills anything a failure left.
const removeJobsFolder = privateJobsFolder();
afterAll(() => {
  const left = killLeftovers();
  removeJobsFolder();
  expect(left, 'rank processes left running').toEqual([]);
});

/** What each rank's fake agent saw (prepare/commit/abort), from its status report. */
async function seen(fake: FakeJob, timeoutMs?: number): Promise<string[][]> {
  const status = await fake.coordinator.status(timeoutMs ? { timeoutMs } : undefined);
  return status.ranks.map((r) =>
    isRankStatusFailure(r) ? [`no answer: ${r.error}`] : (r as unknown as { fake: { seen: string[] } }).fake.seen,
  );
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('coordinator on a 4-rank job', () => {
  let fake: FakeJob;
  let tool: ToolClient;
  beforeAll(async () => {
    fake = await startFakeJob(4, { env: { CTL_FAKE_SLOW_MS: '1500' } });
    tool = await connectTool(fake.job.jobDir);
  }, 20_000);
  afterAll(async () => {
    tool?.close();
    const result = await fake?.stop();
    expect(result?.exitCode).toBe(130);
  }, 20_000);

  it('reports every rank for ctl.status, with the job record', async () => {
    const status = (await tool.call(TOOL_CTL_STATUS)) as CtlStatus;
    expect(status).toMatchObject({ jobId: fake.job.jobId, size: 4, pid: process.pid, args: [] });
    expect(status.script).toMatch(/ctl-fake-agent\.ts$/);
    expect(Date.parse(status.started)).toBeGreaterThan(Date.now() - 60_000);
    expect(status.ranks.map((r) => r.rank)).toEqual([0, 1, 2, 3]);
    expect(status.ranks.map((r) => r.pid)).toEqual([...fake.job.pids]);
    expect(status.ranks[2]).toMatchObject({
      components: [{ name: 'self' }, { name: 'tcp', modules: ['tcp0'] }],
      peers: [{ rank: 0 }, { rank: 1 }, { rank: 2, send: ['self'] }, { rank: 3 }],
    });
  });

  it('runs a verb in two phases on every rank and returns what changed', async () => {
    const started = Date.now();
    const result = (await tool.call(TOOL_CTL, { verb: 'switch', btls: ['tcp'], ranks: [3, 1, 1] })) as VerbResult;
    expect(result).toMatchObject({ ok: true, outcome: 'done', verb: 'switch tcp --ranks 1,3', errors: [] });
    expect(result.ms).toBeGreaterThan(0);
    expect(result.ms).toBeLessThanOrEqual(Date.now() - started + 1);
    // --ranks limits what each rank does, not who takes part: every rank prepared and committed.
    expect(result.changes).toEqual([
      { rank: 1, changes: ['peer 0: send tcp', 'peer 2: send tcp', 'peer 3: send tcp'] },
      { rank: 3, changes: ['peer 0: send tcp', 'peer 1: send tcp', 'peer 2: send tcp'] },
    ]);
    const log = await seen(fake);
    for (const ranks of log) expect(ranks.slice(-2)).toEqual([expect.stringMatching(/^prepare \d+ switch tcp --ranks 1,3$/), expect.stringMatching(/^commit \d+$/)]);
    await expect(tool.call(TOOL_CTL_PROGRESS)).resolves.toEqual({ done: 0, total: 4 });
  });

  it('refuses when every rank refuses, with one line for an identical reason, and commits nothing', async () => {
    const before = await seen(fake);
    const result = (await tool.call(TOOL_CTL, { verb: 'unload', btl: 'tcp' })) as VerbResult;
    expect(result).toMatchObject({ ok: false, outcome: 'refused', verb: 'unload tcp', changes: [] });
    expect(result.errors).toEqual([
      { code: 'ERR_CTL_REFUSED', message: 'ranks 0-3: unloading tcp would leave every peer without a transport' },
    ]);
    const after = await seen(fake);
    for (let r = 0; r < 4; r++) {
      const txn = /^prepare (\d+)/.exec(after[r]![before[r]!.length]!)![1];
      expect(after[r]!.slice(before[r]!.length)).toEqual([`prepare ${txn} unload tcp`, `abort ${txn}`]);
    }
  });

  it('refuses when one rank refuses, naming it; the ranks that agreed are aborted and hold nothing', async () => {
    const before = await seen(fake);
    const result = (await fake.coordinator.run({ verb: 'load', btl: 'picky' })) as VerbResult;
    expect(result.outcome).toBe('refused');
    expect(result.errors).toEqual([{ rank: 1, code: 'ERR_CTL_REFUSED', message: 'rank 1: no device for picky' }]);
    const after = await seen(fake);
    for (let r = 0; r < 4; r++) expect(after[r]!.slice(before[r]!.length).map((l) => l.split(' ')[0])).toEqual(['prepare', 'abort']);
    const status = await fake.coordinator.status();
    expect(status.ranks.filter((r) => 'pendingVerb' in r)).toEqual([]);
  });

  it('groups rank-prefixed reasons that are otherwise identical', async () => {
    const result = await fake.coordinator.run({ verb: 'switch', btls: ['openib', 'tcp'] });
    expect(result.errors).toEqual([{ code: 'ERR_CTL_REFUSED', message: "ranks 0-3: btl 'openib' is not loaded (loaded: self, tcp)" }]);
  });

  it.each([
    [{ verb: 'switch', btls: ['tcp'], ranks: [1, 7] }, 'rank 7 does not exist: the job has ranks 0-3'],
    [{ verb: 'explode' }, 'unknown verb "explode"; verbs: switch, reset, unload, load, apply, checkpoint, migrate'],
    [{ verb: 'unload' }, 'unload needs a BTL: unload BTL'],
    [{ verb: 'switch', btls: [] }, 'switch needs at least one BTL: switch BTL[,BTL...]'],
    [{ verb: 'load', btl: 'a b' }, "'a b' is not a BTL component name (letters, digits, '_', '-', '.')"],
    [{ verb: 'apply', mca: [['btl', 1]] }, 'apply takes [KEY, VALUE] string pairs, got ["btl",1]'],
    [{ verb: 'checkpoint', phase: 'later' }, "checkpoint needs a phase: prepare, continue or restart, got 'later'"],
    [{ verb: 'checkpoint', phase: 'prepare', ranks: [0] }, 'checkpoint applies to every rank; it takes no --ranks'],
    [{ verb: 'migrate', phase: 'away' }, 'migrate moves one rank: give exactly one rank in ranks'],
    [{ verb: 'migrate', phase: 'away', ranks: [1, 2] }, 'migrate moves one rank: give exactly one rank in ranks'],
    [{ verb: 'migrate', phase: 'later', ranks: [1] }, "migrate needs a phase: away or back, got 'later'"],
    [{ verb: 'reset', timeoutMs: -1 }, 'timeoutMs must be a whole number of milliseconds from 1 to 86400000, got -1'],
    ['switch tcp', 'a verb must be an object like {"verb":"switch","btls":["tcp"]}, got "switch tcp"'],
  ])('refuses %j before sending anything', async (verb, message) => {
    const before = await seen(fake);
    const result = (await tool.call(TOOL_CTL, verb)) as VerbResult;
    expect(result).toMatchObject({ ok: false, outcome: 'refused', changes: [], errors: [{ message }] });
    expect(await seen(fake)).toEqual(before);
  });

  it('refuses a second verb at once while the first is in its commit (saying whose it is), and reports progress', async () => {
    const before = await seen(fake);
    // The job's own reload of a failed transport, as module-recovery runs it.
    const BY_RECOVERY = 'the job reloading its failed slow by itself';
    const first = fake.coordinator.run({ verb: 'load', btl: 'slow' }, BY_RECOVERY);
    await waitFor('the commit phase', async () => ((await tool.call(TOOL_CTL_PROGRESS)) as VerbProgress).phase === 'commit');
    expect(await tool.call(TOOL_CTL_PROGRESS)).toEqual({ verb: 'load slow', phase: 'commit', done: 0, total: 4 });
    const t0 = Date.now();
    const second = (await tool.call(TOOL_CTL, { verb: 'reset' })) as VerbResult;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(second).toMatchObject({
      ok: false,
      outcome: 'refused',
      verb: 'reset',
      errors: [{ code: 'ERR_CTL_BUSY', message: `another verb is in progress: load slow (${BY_RECOVERY}; try again in a moment)` }],
    });
    const status = await fake.coordinator.status();
    expect(status.verb).toMatchObject({ verb: 'load slow', phase: 'commit' });
    const done = await first;
    expect(done).toMatchObject({ outcome: 'done', changes: [0, 1, 2, 3].map((rank) => ({ rank, changes: ['loaded slow (1 module)'] })) });
    expect(done.ms).toBeGreaterThanOrEqual(1400);
    const after = await seen(fake);
    // The refused verb never reached a rank.
    for (let r = 0; r < 4; r++) expect(after[r]!.slice(before[r]!.length).map((l) => l.split(' ')[0])).toEqual(['prepare', 'commit']);
  }, 15_000);

  it('keeps the job to a checkpoint save from its prepare to its continue, and lets go when the save ends', async () => {
    const busy = (pid: number) => ({
      ok: false,
      outcome: 'refused',
      errors: [
        {
          code: 'ERR_CTL_BUSY',
          message: `a checkpoint save (pid ${pid}) is in progress: it continues the job or undoes its prepare when it is done`,
        },
      ],
    });
    // Stand-ins for `switchyard ctl checkpoint save` processes: the coordinator knows a save by its pid.
    const saves = [spawn('sleep', ['60']), spawn('sleep', ['60'])];
    try {
      const [a, b] = saves.map((p) => p.pid!);
      expect(await tool.call(TOOL_CTL, { verb: 'checkpoint', phase: 'prepare', save: a })).toMatchObject({ outcome: 'done' });
      // An operator's continue, or any other verb, while the save dumps the job with its connection closed.
      expect(await tool.call(TOOL_CTL, { verb: 'checkpoint', phase: 'continue' })).toMatchObject(busy(a!));
      expect(await tool.call(TOOL_CTL, { verb: 'switch', btls: ['tcp'] })).toMatchObject(busy(a!));
      expect(await tool.call(TOOL_CTL, { verb: 'checkpoint', phase: 'continue', save: b })).toMatchObject(busy(a!));
      expect(await tool.call(TOOL_CTL, { verb: 'checkpoint', phase: 'continue', save: a })).toMatchObject({ outcome: 'done' });
      expect(await tool.call(TOOL_CTL, { verb: 'switch', btls: ['tcp'] })).toMatchObject({ outcome: 'done' });
      // A save that ends without continuing (killed during the dump) holds nothing.
      expect(await tool.call(TOOL_CTL, { verb: 'checkpoint', phase: 'prepare', save: b })).toMatchObject({ outcome: 'done' });
      expect(await tool.call(TOOL_CTL, { verb: 'reset' })).toMatchObject(busy(b!));
      saves[1]!.kill('SIGKILL');
      await once(saves[1]!, 'exit');
      expect(await tool.call(TOOL_CTL, { verb: 'checkpoint', phase: 'continue' })).toMatchObject({ outcome: 'done' });
      expect(await tool.call(TOOL_CTL, { verb: 'checkpoint', phase: 'prepare', save: 0 })).toMatchObject({
        outcome: 'refused',
        errors: [{ message: 'save must be the pid of a checkpoint save, got 0' }],
      });
    } finally {
      for (const p of saves) p.kill('SIGKILL');
    }
  }, 15_000);

  it('reports a commit error as failed with its code, rolls back the ranks that committed, and says where each rank stands', async () => {
    const result = await fake.coordinator.run({ verb: 'load', btl: 'bad' });
    expect(result).toMatchObject({
      ok: false,
      outcome: 'failed',
      errors: [{ rank: 0, code: 'ERR_CTL_COMMIT_FAILED', message: 'rank 0: the device went away' }],
    });
    expect(result.changes.map((c) => c.rank)).toEqual([1, 2, 3]);
    expect(result.ranks).toEqual([
      { rank: 0, state: 'unchanged', applied: [] },
      ...[1, 2, 3].map((rank) => ({ rank, state: 'rolled-back', applied: [] })),
    ]);
    const log = await seen(fake);
    const txn = /^commit (\d+)$/.exec(log[0]!.at(-2)!)![1];
    for (const r of log) expect(r.slice(-2)).toEqual([`commit ${txn}`, `rollback ${txn}`]);
    const status = await fake.coordinator.status();
    for (const r of status.ranks) expect((r as RankStatus).components.map((c) => c.name)).not.toContain('bad');
    expect(status.lastFailure).toEqual({ verb: 'load bad', ranks: result.ranks });
    // The next verb that is done clears it.
    expect((await fake.coordinator.run({ verb: 'reset' })).outcome).toBe('done');
    expect((await fake.coordinator.status()).lastFailure).toBeUndefined();
  });

  it('names the rank whose undo failed and what it still has applied', async () => {
    const result = await fake.coordinator.run({ verb: 'load', btl: 'sticky' });
    expect(result.outcome).toBe('failed');
    expect(result.errors).toEqual([
      { rank: 0, code: 'ERR_CTL_COMMIT_FAILED', message: 'rank 0: the device went away' },
      {
        rank: 2,
        code: 'ERR_CTL_ROLLBACK_FAILED',
        message: "rank 2: undoing 'load sticky' failed: finalize hung (still applied: loaded sticky (1 module))",
      },
    ]);
    expect(result.ranks).toEqual([
      { rank: 0, state: 'unchanged', applied: [] },
      { rank: 1, state: 'rolled-back', applied: [] },
      {
        rank: 2,
        state: 'partial',
        applied: ['loaded sticky (1 module)'],
        code: 'ERR_CTL_ROLLBACK_FAILED',
        error: "undoing 'load sticky' failed: finalize hung",
      },
      { rank: 3, state: 'rolled-back', applied: [] },
    ]);
    const status = await fake.coordinator.status();
    expect(status.lastFailure?.ranks[2]).toMatchObject({ state: 'partial' });
    expect((status.ranks[2] as RankStatus).components.map((c) => c.name)).toContain('sticky');
    expect((await fake.coordinator.run({ verb: 'reset' })).outcome).toBe('done');
  });

  it('refuses a verb that would change nothing on any rank, with their reasons and code, and commits nothing', async () => {
    const before = await seen(fake);
    const result = await fake.coordinator.run({ verb: 'load', btl: 'already' });
    expect(result).toMatchObject({
      outcome: 'refused',
      errors: [{ code: 'ERR_CTL_ALREADY_LOADED', message: "ranks 0-3: btl 'already' is already loaded" }],
    });
    const after = await seen(fake);
    for (let r = 0; r < 4; r++) expect(after[r]!.slice(before[r]!.length).map((l) => l.split(' ')[0])).toEqual(['prepare', 'abort']);
  });
});

describe('coordinator when ranks misbehave', () => {
  it('fails a commit a rank does not finish in time, names it, rolls back the survivors and takes the next verb', async () => {
    const fake = await startFakeJob(3, { commitTimeoutMs: 2000 });
    try {
      const t0 = Date.now();
      const result = await fake.coordinator.run({ verb: 'load', btl: 'hang', ranks: [1] });
      expect(Date.now() - t0).toBeLessThan(6000);
      expect(result).toMatchObject({
        ok: false,
        outcome: 'failed',
        verb: 'load hang --ranks 1',
        errors: [{ rank: 1, code: 'ERR_CTL_NO_ANSWER', message: 'rank 1 did not answer within 2000 ms' }],
      });
      expect(result.changes.map((c) => c.rank)).toEqual([0, 2]);
      expect(result.ranks?.map((r) => r.state)).toEqual(['rolled-back', 'unknown', 'rolled-back']);
      const log = await seen(fake);
      for (const r of [log[0]!, log[2]!]) expect(r.at(-1)).toMatch(/^rollback 1$/);
      expect((await fake.coordinator.run({ verb: 'reset' })).outcome).toBe('done');
    } finally {
      await fake.stop();
    }
  }, 20_000);

  it('fails in bounded time when a rank dies during commit, naming the rank; the job ends and no rank is left', async () => {
    const fake = await startFakeJob(3, { env: { CTL_FAKE_SLOW_MS: '10000' } });
    try {
      const t0 = Date.now();
      const result = await fake.coordinator.run({ verb: 'load', btl: 'crash', ranks: [2] });
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(result).toMatchObject({ ok: false, outcome: 'failed', verb: 'load crash --ranks 2' });
      // The cause first, then what followed from it (the launcher stops the other ranks).
      expect(result.errors[0]).toEqual({ rank: 2, code: 'ERR_CTL_NO_ANSWER', message: 'rank 2 exited with code 3 before answering' });
      expect(result.errors.slice(1, -1).map((e) => e.message).join('; ')).toMatch(/^ranks? [\d,-]+ (closed (its|their) out-of-band connections?|(was|were) killed by signal SIGTERM) before answering/);
      expect(result.errors.at(-1)?.message).toMatch(/^the job is being aborted: rank 2 \(pid \d+\) exited with code 3$/);
      const end = await fake.result;
      expect(end.exitCode).toBe(3);
      for (const pid of fake.job.pids) expect(isAlive(pid!)).toBe(false);
    } finally {
      await fake.stop();
    }
  }, 20_000);

  it('names the rank whose end aborted the job when that rank had already answered, not only the rank still waited on', async () => {
    const fake = await startFakeJob(3, { env: { CTL_FAKE_SLOW_MS: '4000' } });
    try {
      // Rank 2 takes 4 s to prepare; ranks 0 and 1 answered at once. Rank 1 is killed meanwhile.
      const verb = fake.coordinator.run({ verb: 'load', btl: 'late', ranks: [2] });
      await new Promise((r) => setTimeout(r, 500));
      process.kill(fake.job.pids[1]!, 'SIGKILL');
      const result = await verb;
      expect(result.ok).toBe(false);
      const said = result.errors.map((e) => e.message).join('; ');
      expect(said).toMatch(/the job is being aborted: rank 1 \(pid \d+\) was killed by signal SIGKILL/);
      await fake.result;
    } finally {
      await fake.stop();
    }
  }, 20_000);

  it('aborts again, ahead of the next verb, what a rank prepared after its abort', async () => {
    const fake = await startFakeJob(3, { env: { CTL_FAKE_SLOW_MS: '800' } });
    try {
      const late = await fake.coordinator.run({ verb: 'load', btl: 'late', ranks: [1], timeoutMs: 300 });
      expect(late).toMatchObject({ outcome: 'refused', errors: [{ rank: 1, message: 'rank 1 did not answer within 300 ms' }] });
      await new Promise((r) => setTimeout(r, 1000));
      // Rank 1 finished preparing after the abort had come: it holds the dead verb.
      const status = await fake.coordinator.status();
      expect(status.ranks[1]).toMatchObject({ pendingVerb: 'load late --ranks 1' });
      const next = await fake.coordinator.run({ verb: 'reset' });
      expect(next).toMatchObject({ outcome: 'done', errors: [] });
      expect((await seen(fake))[1]).toEqual(['prepare 1 load late --ranks 1', 'abort 1', 'abort 1', 'prepare 2 reset', 'commit 2']);
    } finally {
      await fake.stop();
    }
  }, 20_000);

  it('lists a rank that does not answer status with the reason, and refuses a verb it cannot prepare', async () => {
    const fake = await startFakeJob(3, { env: { CTL_FAKE_SILENT_RANK: '1' } });
    try {
      const status = await fake.coordinator.status({ timeoutMs: 1000 });
      expect(status.ranks[1]).toEqual({ rank: 1, pid: fake.job.pids[1], state: 'connected', error: 'did not answer within 1000 ms' });
      expect(isRankStatusFailure(status.ranks[0]!)).toBe(false);
      // A per-verb timeout instead of the default 10 s; the silent rank's abort is sent, not awaited.
      const t0 = Date.now();
      const result = await fake.coordinator.run({ verb: 'reset', timeoutMs: 1000 });
      expect(Date.now() - t0).toBeLessThan(1900);
      expect(result).toMatchObject({ outcome: 'refused', errors: [{ rank: 1, message: 'rank 1 did not answer within 1000 ms' }] });
      // The ranks that prepared were told to abort.
      const log = await seen(fake, 1000);
      expect(log[0]).toEqual(['prepare 1 reset', 'abort 1']);
    } finally {
      await fake.stop();
    }
  }, 20_000);
});

describe('coordinator: a collective step of a commit that a rank never joins', () => {
  let fake: FakeJob;
  beforeAll(async () => {
    fake = await startFakeJob(3, { commitTimeoutMs: 3000 });
  }, 20_000);
  afterAll(async () => {
    const result = await fake?.stop();
    expect(result?.exitCode).toBe(130);
  }, 20_000);

  it('is closed when the commit\'s time is up: the ranks in it answer, are rolled back, and the one missing is named', async () => {
    const started = Date.now();
    // No timeoutMs: the patient path, the one an operator's plain `ctl load` takes.
    const result = (await fake.coordinator.run({ verb: 'load', btl: 'fenced', ranks: [2] })) as VerbResult;
    expect(result).toMatchObject({ ok: false, outcome: 'failed' });
    // Bounded by the commit's time (3 s) and the rollback's, not by rank 2 ever joining.
    expect(Date.now() - started).toBeLessThan(12_000);
    const closed = result.errors.find((e) => e.code === 'ERR_CTL_STEP_CLOSED');
    expect(closed?.message).toMatch(/^ranks 0-1: fence 'ctl-\d+-commit:fenced' \(generation 1\) cannot complete: /);
    expect(closed?.message).toMatch(/the commit of 'load fenced --ranks 2' gave up on it after \d+ ms; rank 2 did not join it$/);
    expect(result.errors).toContainEqual({ rank: 2, code: 'ERR_CTL_NO_ANSWER', message: 'rank 2 did not answer within 3000 ms' });
    // The ranks that waited in the step answered their commit and their rollback: where they stand is known.
    expect(result.ranks?.map((r) => [r.rank, r.state])).toEqual([
      [0, 'unchanged'],
      [1, 'unchanged'],
      [2, 'unknown'],
    ]);
  }, 30_000);
});
