import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FenceBook } from '../src/fence-book.js';
import { encodeFrame, FrameDecoder, FrameError, MAX_FRAME_BYTES } from '../src/frames.js';
import { newJobId } from '../src/job-id.js';
import { forwardLines, SharedOutput } from '../src/output-forwarding.js';
import { RankActivity } from '../src/rank-activity.js';
import { RequestTracker } from '../src/request-tracker.js';
import { connectWireUp, RequestError, SingletonWireUp, WireUpError } from '../src/index.js';
import { readRankEnvironment } from '../src/wireup-env.js';
import { Collector } from './helpers.js';

describe('OOB frames', () => {
  it('decode however the byte stream is cut', () => {
    const messages = [{ type: 'hello', rank: 1 }, { type: 'notify', body: 'é✓'.repeat(1000) }, { type: 'x', n: [1, 2] }];
    const bytes = Buffer.concat(messages.map(encodeFrame));
    for (const step of [1, 3, 7, bytes.length]) {
      const decoder = new FrameDecoder();
      const out: unknown[] = [];
      for (let i = 0; i < bytes.length; i += step) out.push(...decoder.push(bytes.subarray(i, i + step)));
      expect(out).toEqual(messages);
    }
  });

  it('refuse an oversized length and a body that is not JSON', () => {
    const huge = Buffer.alloc(4);
    huge.writeUInt32LE(MAX_FRAME_BYTES + 1);
    expect(() => new FrameDecoder().push(huge)).toThrow(FrameError);
    const bad = Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from('{x}')]);
    expect(() => new FrameDecoder().push(bad)).toThrow(/not JSON/);
  });
});

describe('FenceBook', () => {
  it('completes a fence when every rank joined, with what each put for that generation', () => {
    const book = new FenceBook(2);
    book.put(0, 'modex', { a: 1 });
    book.put(0, 'modex', { b: 2 });
    expect(book.join(0, 'modex', 1)).toBeUndefined();
    expect(book.join(1, 'modex', 1)).toEqual({ name: 'modex', generation: 1, table: [{ a: 1, b: 2 }, {}] });
    // The next generation starts empty: old cards do not leak into a re-run modex.
    book.put(1, 'modex', { c: 3 });
    book.join(1, 'modex', 2);
    expect(book.join(0, 'modex', 2)).toEqual({ name: 'modex', generation: 2, table: [{}, { c: 3 }] });
  });

  it('keeps nothing of a fence once every rank joined it: a name used once per verb does not pile up', () => {
    const book = new FenceBook(2);
    for (let txn = 0; txn < 100; txn++) {
      const name = `ctl-reset-${txn}-sm`;
      book.put(0, name, { card: txn });
      book.put(1, name, { card: txn });
      book.join(0, name, 1);
      expect(book.join(1, name, 1)).toMatchObject({ name, generation: 1 });
    }
    expect(book.held).toEqual({ names: 0, open: 0 });
  });

  it('keeps differently named fences apart and fails those a leaving rank never joined', () => {
    const book = new FenceBook(3);
    book.join(0, 'modex', 1);
    book.join(0, 'barrier', 1);
    book.join(2, 'barrier', 1);
    expect(book.leave(1)).toEqual([
      { name: 'modex', generation: 1, joined: [0], gone: [1] },
      { name: 'barrier', generation: 1, joined: [0, 2], gone: [1] },
    ]);
    expect(book.join(0, 'later', 1)).toEqual({ name: 'later', generation: 1, joined: [0], gone: [1] });
  });
});

describe('FenceBook closing a verb\'s fences', () => {
  it('fails the open fences under a prefix, naming who had not joined, and any joined later, alone', () => {
    const book = new FenceBook(3);
    book.put(0, 'ctl-4-commit:load:fresh', { fresh: true });
    expect(book.join(0, 'ctl-4-commit:load:fresh', 1)).toBeUndefined();
    expect(book.join(1, 'ctl-4-commit:load:fresh', 1)).toBeUndefined();
    expect(book.join(1, 'modex', 1)).toBeUndefined();
    const why = "the commit of 'load openib' gave up on it after 58000 ms";
    expect(book.close('ctl-4-commit:', why)).toEqual([
      { name: 'ctl-4-commit:load:fresh', generation: 1, joined: [0, 1], gone: [], closed: { why, missing: [2] } },
    ]);
    // The rank that comes late (resumed after SIGSTOP) fails at once instead of waiting for ranks
    // that left the step: every rank ends it the same way.
    expect(book.join(2, 'ctl-4-commit:load:fresh', 1)).toEqual({
      name: 'ctl-4-commit:load:fresh',
      generation: 1,
      joined: [2],
      gone: [],
      closed: { why, missing: [] },
    });
    expect(book.join(2, 'ctl-4-commit:load', 1)).toMatchObject({ closed: { why } });
    // Other fences, and the same verb's rollback, are not touched.
    expect(book.join(0, 'ctl-4-rollback:load-back', 1)).toBeUndefined();
    expect(book.held).toEqual({ names: 0, open: 2 });
  });
});

describe('RequestTracker', () => {
  it('resolves with every reply, or rejects naming each rank that failed', async () => {
    const tracker = new RequestTracker();
    const sent: number[] = [];
    const ok = tracker.request([0, 1], 'ping', 1000, (rank) => (sent.push(rank), null));
    tracker.reply(1, { type: 'reply', id: 1, ok: true, body: 'b' });
    tracker.reply(0, { type: 'reply', id: 1, ok: true, body: 'a' });
    expect([...(await ok)]).toEqual([
      [0, 'a'],
      [1, 'b'],
    ]);
    expect(sent).toEqual([0, 1]);

    const bad = tracker.request([0, 1, 2], 'x', 50, (rank) =>
      rank === 2 ? { code: 'ERR_SWITCHYARD_RANK_FINALIZED', why: 'has finalized' } : null,
    );
    tracker.reply(0, { type: 'reply', id: 2, ok: false, error: 'nope' });
    const err = (await bad.catch((e: unknown) => e)) as RequestError;
    expect(err).toBeInstanceOf(RequestError);
    expect(err.message).toBe('control request failed: rank 0 failed: nope; rank 1 did not answer within 50 ms; rank 2 has finalized');
    // What kind of failure each was, for callers that act on it (never on the words).
    expect([...err.codes].sort(([a], [b]) => a - b)).toEqual([
      [0, 'ERR_SWITCHYARD_RANK_FAILED'],
      [1, 'ERR_SWITCHYARD_RANK_TIMEOUT'],
      [2, 'ERR_SWITCHYARD_RANK_FINALIZED'],
    ]);
  });

  it("answers for a busy rank with its stand-in once the rank had time to answer itself, and prefers the rank's own answer", async () => {
    const tracker = new RequestTracker();
    let busy = false;
    const standIn = (rank: number) => (rank === 1 && busy ? { rank, busy: { forMs: 200 } } : undefined);
    const started = performance.now();
    // A timeout of 400 ms: the stand-in may answer after 200 ms.
    const replies = tracker.request([0, 1], 'status', 400, () => null, { standIn });
    let settled = false;
    void replies.finally(() => (settled = true));
    tracker.reply(0, { type: 'reply', id: 1, ok: true, body: { rank: 0 } });
    busy = true;
    tracker.activityChanged(1);
    // The next turn of the loop, not a timer: a loaded machine may run a 50 ms timer after 200 ms.
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    expect([...(await replies)]).toEqual([
      [0, { rank: 0 }],
      [1, { rank: 1, busy: { forMs: 200 } }],
    ]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    // Busy by its monitor's word, yet answering: its own answer is the one given.
    const own = tracker.request([1], 'status', 400, () => null, { standIn });
    tracker.reply(1, { type: 'reply', id: 2, ok: true, body: { rank: 1, fresh: true } });
    expect([...(await own)]).toEqual([[1, { rank: 1, fresh: true }]]);
  });

  it('waits for a rank known busy, and counts its timeout from the last moment it was', async () => {
    const tracker = new RequestTracker();
    let busyUntil: number | undefined;
    const lastBusy = () => busyUntil ?? performance.now();
    let settled = false;
    const waited = tracker.request([1], 'prepare', 30, () => null, { lastBusy }).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    busyUntil = performance.now();
    const err = (await waited.catch((e: unknown) => e)) as RequestError;
    expect(err.failures.get(1)).toBe('did not answer within 30 ms after a rank was last seen busy in application code');
  });
});

describe('RankActivity', () => {
  it('knows a rank busy, its stand-in, and when it was last busy; rejects a malformed report', () => {
    const activity = new RankActivity();
    expect(activity.busyMs()).toBeUndefined();
    expect(activity.freeForMs()).toBeUndefined();
    expect(activity.update({ type: 'activity', busyMs: 1500, snapshot: { rank: 2, traffic: [] } })).toBe(true);
    expect(activity.busyMs()).toBeGreaterThanOrEqual(1500);
    expect(activity.standIn()).toEqual({ rank: 2, traffic: [], busy: { forMs: expect.any(Number) } });
    expect(activity.freeForMs()).toBeUndefined();
    expect(activity.update({ type: 'activity', busyMs: null })).toBe(true);
    expect(activity.busyMs()).toBeUndefined();
    expect(activity.freeForMs()).toBeGreaterThanOrEqual(0);
    expect(activity.standIn()).toBeUndefined();
    expect(activity.lastBusyAt()).toBeLessThanOrEqual(performance.now());
    expect(activity.update({ type: 'activity', busyMs: -1 })).toBe(false);
    expect(activity.update({ type: 'activity', busyMs: '5' })).toBe(false);
  });
});

describe('output forwarding', () => {
  it('never splits a line and tags each one', async () => {
    const out = new Collector();
    const shared = new SharedOutput(out);
    const a = new PassThrough();
    const b = new PassThrough();
    forwardLines(a, shared, '[0] ');
    forwardLines(b, shared, '[1] ');
    a.write('he');
    b.write('x\ny');
    a.write('llo\nwor');
    a.end('ld');
    b.end();
    await new Promise((r) => setImmediate(r));
    expect(out.text).toBe('[1] x\n[0] hello\n[0] world\n[1] y\n');
  });

  it('writes out an endless line (a progress bar) instead of buffering it all', async () => {
    const out = new Collector();
    const source = new PassThrough();
    forwardLines(source, new SharedOutput(out), null);
    source.write('\r50%'.repeat(20_000));
    await new Promise((r) => setImmediate(r));
    expect(out.text.length).toBe(80_000);
    source.end();
  });
});

describe('wire-up selection', () => {
  it('is a singleton without a launcher', async () => {
    const w = await connectWireUp({ SWITCHYARD_MCA_CLI: '[["btl","self"]]' });
    expect(w).toBeInstanceOf(SingletonWireUp);
    expect(w).toMatchObject({ kind: 'singleton', rank: 0, size: 1, mcaCommandLine: [['btl', 'self']] });
    expect(await w.exchange({ card: { port: 1 } })).toEqual([{ card: { port: 1 } }]);
    await w.barrier();
    await w.finalize();
    await w.finalize();
  });

  it('refuses to run as a singleton when srun or mpirun started several tasks without PMIx', async () => {
    await expect(connectWireUp({ SLURM_PROCID: '1', SLURM_NTASKS: '4', SLURM_STEP_NUM_TASKS: '4' })).rejects.toThrow(
      'srun started this process as task 1 of 4 without PMIx; start the job with `srun --mpi=pmix`',
    );
    await expect(connectWireUp({ OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '2' })).rejects.toThrow(/mpirun started this process as rank 0 of 2, but gave it no PMIx server/);
    // A batch script's own `node app.mjs` (no step), or a step of one task, is a singleton.
    expect(await connectWireUp({ SLURM_PROCID: '0', SLURM_NTASKS: '4' })).toBeInstanceOf(SingletonWireUp);
    expect(await connectWireUp({ SLURM_PROCID: '0', SLURM_STEP_NUM_TASKS: '1' })).toBeInstanceOf(SingletonWireUp);
  });

  it('explains a bad launcher environment', async () => {
    const env = {
      SWITCHYARD_HNP_URI: '/nonexistent/hnp.sock',
      SWITCHYARD_JOB_ID: 'j',
      SWITCHYARD_RANK: '2',
      SWITCHYARD_SIZE: '2',
      SWITCHYARD_JOB_SECRET: 's',
    };
    expect(() => readRankEnvironment(env)).toThrow('SWITCHYARD_RANK=2 is not below SWITCHYARD_SIZE=2');
    expect(() => readRankEnvironment({ ...env, SWITCHYARD_RANK: '0', SWITCHYARD_MCA_CLI: '{}' })).toThrow(/SWITCHYARD_MCA_CLI must be a JSON array/);
    await expect(connectWireUp({ ...env, SWITCHYARD_RANK: '0' })).rejects.toThrow(WireUpError);
    await expect(connectWireUp({ ...env, SWITCHYARD_RANK: '0' })).rejects.toThrow(/cannot reach the launcher at \/nonexistent\/hnp.sock/);
  });

  it('makes short, distinct job ids, also within one millisecond', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newJobId()));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]{14,16}$/);
    const now = Date.now();
    expect(new Set(Array.from({ length: 500 }, () => newJobId(now))).size).toBe(500);
  });
});
