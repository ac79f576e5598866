import { afterEach, describe, expect, it } from 'vitest';
import { ctl, startTrafficJob, type BackgroundJob } from './helpers/ctl.js';
import { expectExactlyOnceInOrder, sendLists, verb } from './helpers/traffic-checks.js';

// The product's reason to exist: transports switched, unloaded and loaded while every rank
// exchanges numbered, checksummed messages (eager and rendezvous sizes, ANY_SOURCE receives,
// an allreduce every 16 iterations). openib runs on its software verbs provider: the fast,
// non-checkpointable transport, and so is sm (shared memory); tcp is the checkpointable one.
const FAST_AND_TCP = ['--mca', 'btl', 'openib,tcp,self', '--mca', 'btl_openib_provider', 'soft'];
// sm busy polling too: then wait() polls the rings itself (see the PML's pollFor).
const FAST = [
  ['openib', 'openib', 'openib,tcp,self', ['--mca', 'btl_openib_provider', 'soft']],
  ['sm', 'sm', 'sm,tcp,self', []],
  // Three ranks on this 2-core machine: polling kept on (it would stop on an oversubscribed host).
  ['sm, busy polling,', 'sm', 'sm,tcp,self', ['--mca', 'pml_busy_poll', '1', '--mca', 'pml_busy_poll_oversubscribed', '1']],
] as const;

let job: BackgroundJob | undefined;
afterEach(() => {
  job?.kill();
  job = undefined;
});

describe('a transport unloaded on one rank of two', () => {
  it('stays loaded on the other, which connects to it again when it is loaded back; every message once, in order', async () => {
    job = await startTrafficJob(['-n', '2', '--mca', 'btl', 'sm,tcp,self']);
    const components = async () =>
      (await verb(job!.jobId, 'status')).ranks.map((r: { components: Array<{ name: string }> }) => r.components.map((c) => c.name).sort());
    expect(await verb(job.jobId, 'unload', 'tcp', '--ranks', '1')).toMatchObject({ ok: true, outcome: 'done' });
    // Rank 0 has no other peer on tcp, and keeps it (idle) for rank 1's return.
    expect(await components()).toEqual([['self', 'sm', 'tcp'], ['self', 'sm']]);
    expect(await verb(job.jobId, 'load', 'tcp', '--ranks', '1')).toMatchObject({ ok: true, outcome: 'done' });
    expect(await components()).toEqual([['self', 'sm', 'tcp'], ['self', 'sm', 'tcp']]);
    expect(await verb(job.jobId, 'switch', 'tcp')).toMatchObject({ ok: true, outcome: 'done' });
    expect(await sendLists(job.jobId)).toEqual([['self', 'tcp'], ['tcp', 'self']]);
    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 2);
  }, 90_000);
});

describe.each(FAST)('switching %s and tcp while a job runs', (_label, fast, selection, extra) => {
  it('cycles switch, unload, load, apply and checkpoint 30 times under traffic: every message once, in order', async () => {
    job = await startTrafficJob(['-n', '3', '--mca', 'btl', selection, ...extra]);
    const cycle = [
      ['switch', 'tcp'],
      ['reset'],
      ['unload', fast],
      ['load', fast],
      ['apply', '--mca', 'btl', 'tcp,self'],
      ['apply', '--mca', 'btl', selection],
      ['checkpoint', 'prepare'],
      ['checkpoint', 'continue'],
      ['checkpoint', 'prepare'],
      ['checkpoint', 'restart'],
    ];
    for (let i = 0; i < 3; i++) {
      for (const v of cycle) {
        const result = await verb(job.jobId, ...v);
        expect(result).toMatchObject({ ok: true, outcome: 'done' });
      }
      // Back on the fast transport after each cycle: the very next traffic uses it.
      expect((await sendLists(job.jobId))[0]).toEqual(['self', fast, fast]);
    }
    const out = await job.stop();
    expect(out.code).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 180_000);

  it('cycles switch, unload and load 20 times on the links of one rank with --ranks: every message once, in order', async () => {
    job = await startTrafficJob(['-n', '3', '--mca', 'btl', selection, ...extra]);
    const cycle = [
      ['switch', 'tcp', '--ranks', '1'],
      ['reset', '--ranks', '1'],
      ['unload', fast, '--ranks', '1'],
      ['load', fast, '--ranks', '1'],
    ];
    for (let i = 0; i < 5; i++) {
      for (const v of cycle) expect(await verb(job.jobId, ...v), v.join(' ')).toMatchObject({ ok: true, outcome: 'done' });
    }
    const status = await verb(job.jobId, 'status');
    const links = JSON.stringify(status.ranks.map((r: any) => ({ rank: r.rank, failures: r.failures, peers: r.peers })));
    expect(await sendLists(job.jobId), links).toEqual([
      ['self', fast, fast],
      [fast, 'self', fast],
      [fast, fast, 'self'],
    ]);
    const out = await job.stop();
    expect(out.code).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 180_000);
});

describe('switching transports while a job runs', () => {
  it('cycles sm, openib and tcp under traffic, with checkpoints: every message once, in order', async () => {
    job = await startTrafficJob(['-n', '3', '--mca', 'btl', 'sm,openib,tcp,self', '--mca', 'btl_openib_provider', 'soft']);
    const cycle: Array<[string[], string]> = [
      [['switch', 'openib'], 'openib'],
      [['reset'], 'sm'],
      [['unload', 'sm'], 'openib'],
      [['load', 'sm'], 'sm'],
      [['switch', 'tcp'], 'tcp'],
      [['switch', 'openib'], 'openib'],
      [['reset'], 'sm'],
      // Neither sm nor openib is checkpointable: both are unloaded, tcp carries the traffic.
      [['checkpoint', 'prepare'], 'tcp'],
      [['checkpoint', 'continue'], 'sm'],
    ];
    for (let i = 0; i < 3; i++) {
      for (const [v, carrier] of cycle) {
        expect(await verb(job.jobId, ...v), v.join(' ')).toMatchObject({ ok: true, outcome: 'done' });
        const lists = await sendLists(job.jobId);
        // On a mismatch, what the ranks say of their links (failures, components) goes with it.
        const why = lists[0]!.join() === ['self', carrier, carrier].join() ? '' : JSON.stringify((await verb(job.jobId, 'status')).ranks);
        expect(lists[0], `${v.join(' ')} ${why}`).toEqual(['self', carrier, carrier]);
      }
    }
    const out = await job.stop();
    expect(out.code).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 180_000);

  it('reset names a job-wide switch it undid once, as the operator asked for it, not as each rank\'s peers', async () => {
    job = await startTrafficJob(['-n', '3', ...FAST_AND_TCP]);
    await verb(job.jobId, 'switch', 'tcp');
    const reset = await ctl(['--job', job.jobId, 'reset']);
    expect(reset.code, reset.stderr).toBe(0);
    const undone = reset.stdout.split('\n').filter((line) => line.includes('undone'));
    expect(undone).toEqual(['  job: job-wide switch to tcp undone: every loaded transport may carry traffic again']);
    // A --ranks switch after it is named as typed; a job-wide one before it was replaced by the later job-wide one.
    await verb(job.jobId, 'switch', 'tcp');
    await verb(job.jobId, 'switch', 'openib');
    await verb(job.jobId, 'switch', 'tcp', '--ranks', '2');
    expect((await verb(job.jobId, 'reset')).jobChanges).toEqual([
      'job-wide switch to openib, then switch tcp --ranks 2 undone: every loaded transport may carry traffic again',
    ]);
    // Nothing was switched: nothing to say.
    expect((await verb(job.jobId, 'reset')).jobChanges).toBeUndefined();
    const out = await job.stop();
    expect(out.code).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);

  it('moves only the links of one rank with --ranks, and back', async () => {
    job = await startTrafficJob(['-n', '3', ...FAST_AND_TCP]);
    await verb(job.jobId, 'switch', 'tcp', '--ranks', '1');
    // Rank 1's links are on tcp; the pair 0-2 stays on the fast transport.
    expect(await sendLists(job.jobId)).toEqual([
      ['self', 'tcp', 'openib'],
      ['tcp', 'self', 'tcp'],
      ['openib', 'tcp', 'self'],
    ]);
    await verb(job.jobId, 'unload', 'openib', '--ranks', '1');
    const status = await verb(job.jobId, 'status');
    expect(status.ranks[1].components.map((c: any) => c.name).sort()).toEqual(['self', 'tcp']);
    expect(status.ranks[0].components.map((c: any) => c.name).sort()).toEqual(['openib', 'self', 'tcp']);
    // A checkpoint in between: continue loads openib back where prepare unloaded it (not on rank 1).
    expect(await verb(job.jobId, 'checkpoint', 'prepare')).toMatchObject({ outcome: 'done' });
    const back = await verb(job.jobId, 'checkpoint', 'continue', '--timeout', '20000');
    expect(back).toMatchObject({ outcome: 'done' });
    expect(back.changes.map((c: any) => [c.rank, c.changes.filter((l: string) => l.startsWith('loaded'))])).toEqual([
      [0, ['loaded openib (openib:soft0:1)']],
      [2, ['loaded openib (openib:soft0:1)']],
    ]);
    const after = (await verb(job.jobId, 'status')).ranks.map((r: any) => r.components.map((c: any) => c.name).sort());
    expect(after).toEqual([['openib', 'self', 'tcp'], ['self', 'tcp'], ['openib', 'self', 'tcp']]);
    await verb(job.jobId, 'load', 'openib', '--ranks', '1');
    const reset = await verb(job.jobId, 'reset', '--ranks', '1');
    // It says what it undid once, as the operator asked for it, not per rank.
    const once = 'switch tcp --ranks 1 undone on the links of rank 1: every loaded transport may carry traffic again';
    expect(reset.jobChanges).toEqual([once]);
    expect(JSON.stringify(reset.changes)).not.toMatch(/undone/);
    expect((await sendLists(job.jobId))[1]).toEqual(['openib', 'self', 'openib']);
    // Off one rank, then off the job: the rank that has it no more takes part with nothing to do.
    await verb(job.jobId, 'unload', 'openib', '--ranks', '1');
    const all = await verb(job.jobId, 'unload', 'openib');
    expect(all).toMatchObject({ outcome: 'done' });
    expect(all.changes.map((c: any) => [c.rank, c.changes])).toEqual([
      [0, ['unloaded openib']],
      [2, ['unloaded openib']],
    ]);
    const none = await ctl(['--job', job.jobId, 'unload', 'openib', '--json']);
    expect(none.code).toBe(1);
    expect(none.json).toMatchObject({ outcome: 'refused' });
    const notLoaded = (r: number) => `rank ${r}: btl 'openib' is not loaded on rank ${r} (loaded: self, tcp)`;
    expect(none.json.errors.map((e: any) => e.message)).toEqual([0, 1, 2].map(notLoaded));
    const out = await job.stop();
    expect(out.code).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);

  it('applies a new btl selection declaratively: the job unloads and loads what it needs', async () => {
    job = await startTrafficJob(['-n', '3', ...FAST_AND_TCP]);
    const off = await verb(job.jobId, 'apply', '--mca', 'btl', 'tcp,self');
    expect(off.changes[0].changes).toEqual(['btl = tcp,self (runtime)', 'unloaded openib']);
    let status = await verb(job.jobId, 'status');
    expect(status.ranks[0].components.map((c: any) => c.name).sort()).toEqual(['self', 'tcp']);
    expect(status.ranks[0].runtimeParams).toEqual({ btl: 'tcp,self' });
    // An exclusion means what it does at start-up: every component available here but those named.
    const on = await verb(job.jobId, 'apply', '--mca', 'btl', '^sm');
    expect(on.changes[0].changes).toEqual(['btl = ^sm (runtime)', 'loaded openib (openib:soft0:1)']);
    expect((await sendLists(job.jobId))[0]).toEqual(['self', 'openib', 'openib']);
    const back = await verb(job.jobId, 'apply', '--mca', 'btl', 'openib,tcp,self');
    expect(back.changes[0].changes).toEqual(['btl = openib,tcp,self (runtime)']);
    // Exclusivity is a limit that can change live: tcp above openib takes every link, and back.
    const up = await verb(job.jobId, 'apply', '--mca', 'btl_tcp_exclusivity', '2000');
    expect(up.changes[0].changes[0]).toBe('btl_tcp_exclusivity = 2000 (runtime)');
    expect(up.changes[0].changes[1]).toMatch(/^drained openib/);
    expect(await sendLists(job.jobId)).toEqual([
      ['self', 'tcp', 'tcp'],
      ['tcp', 'self', 'tcp'],
      ['tcp', 'tcp', 'self'],
    ]);
    status = await verb(job.jobId, 'status');
    expect(status.ranks[2].runtimeParams).toEqual({ btl: 'openib,tcp,self', btl_tcp_exclusivity: '2000' });
    await verb(job.jobId, 'apply', '--mca', 'btl_tcp_exclusivity', '100');
    expect((await sendLists(job.jobId))[0]).toEqual(['self', 'openib', 'openib']);
    const bad = await ctl(['--job', job.jobId, 'apply', '--mca', 'btl_tcp_eager_limit', '1k', '--json']);
    expect(bad.json).toMatchObject({ outcome: 'refused' });
    expect(JSON.stringify(bad.json.errors)).toMatch(/btl_tcp_eager_limit' cannot be changed while a job runs/);
    const out = await job.stop();
    expect(out.code).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);

  it('refuses verbs that cannot be done, and changes nothing', async () => {
    job = await startTrafficJob(['-n', '2', ...FAST_AND_TCP]);
    const before = await verb(job.jobId, 'status');
    const refusals: Array<[string[], RegExp]> = [
      [['load', 'tcp'], /btl 'tcp' is already loaded/],
      [['load', 'nosuch'], /no btl component 'nosuch'/],
      [['switch', 'nosuch'], /btl 'nosuch' is not loaded/],
      [['unload', 'nosuch'], /btl 'nosuch' is not loaded on rank \d \(loaded: [a-z, ]*tcp/],
      [['unload', 'self'], /without a transport/],
      [['checkpoint', 'continue'], /no checkpoint prepared/],
    ];
    for (const [args, reason] of refusals) {
      const out = await ctl(['--job', job.jobId, ...args, '--json']);
      expect(out.code, args.join(' ')).toBe(1);
      expect(out.json).toMatchObject({ ok: false, outcome: 'refused' });
      expect(JSON.stringify(out.json.errors)).toMatch(reason);
    }
    // Between checkpoint prepare and continue only checkpointable transports may be loaded.
    await verb(job.jobId, 'checkpoint', 'prepare');
    for (const args of [['load', 'openib'], ['apply', '--mca', 'btl', 'openib,tcp,self']]) {
      const out = await ctl(['--job', job.jobId, ...args, '--json']);
      expect(out.json, args.join(' ')).toMatchObject({ ok: false, outcome: 'refused' });
      expect(JSON.stringify(out.json.errors)).toMatch(/is prepared for a checkpoint and btl 'openib' is not checkpointable/);
    }
    expect((await sendLists(job.jobId))[0]).toEqual(['self', 'tcp']);
    // A switch between prepare and continue is the operator's last word: continue keeps it (and a reset, the configured policy).
    expect((await verb(job.jobId, 'switch', 'tcp')).changes[0].changes).toContain('checkpoint continue will keep traffic on tcp');
    await verb(job.jobId, 'checkpoint', 'continue');
    expect((await sendLists(job.jobId))[0]).toEqual(['self', 'tcp']);
    await verb(job.jobId, 'checkpoint', 'prepare');
    await verb(job.jobId, 'switch', 'tcp');
    await verb(job.jobId, 'reset');
    await verb(job.jobId, 'checkpoint', 'continue');
    expect((await sendLists(job.jobId))[0]).toEqual(['self', 'openib']);
    // With openib gone, unloading tcp would leave the pair without a transport.
    await verb(job.jobId, 'unload', 'openib');
    const last = await ctl(['--job', job.jobId, 'unload', 'tcp', '--json']);
    expect(last.json).toMatchObject({ outcome: 'refused' });
    expect(JSON.stringify(last.json.errors)).toMatch(/unloading tcp would leave rank \d without a transport to rank\(s\) \d/);
    await verb(job.jobId, 'load', 'openib');
    // openib carries the traffic already: the switch moves no link, but it did change the policy (tcp is out).
    const onOpenib = await verb(job.jobId, 'switch', 'openib');
    expect(onOpenib.changes.map((c: any) => c.changes)).toEqual([
      ['traffic policy now openib; no link had traffic to move'],
      ['traffic policy now openib; no link had traffic to move'],
    ]);
    expect(await verb(job.jobId, 'switch', 'openib')).toMatchObject({ ok: true, changes: [] });
    // tcp still reaches the peer, but the switch allows openib alone: the refusal says so.
    const switched = await ctl(['--job', job.jobId, 'unload', 'openib', '--json']);
    expect(switched.json).toMatchObject({ outcome: 'refused' });
    expect(JSON.stringify(switched.json.errors)).toMatch(/that the last switch allows: switch to another transport first/);
    expect(await verb(job.jobId, 'reset')).toMatchObject({ ok: true });
    const after = await verb(job.jobId, 'status');
    const shape = (s: any) =>
      s.ranks.map((r: any) => ({ components: r.components.map((c: any) => c.name).sort(), peers: r.peers.map((p: any) => p.send) }));
    expect(shape(after)).toEqual(shape(before));
    const out = await job.stop();
    expect(out.code).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 2);
  }, 120_000);

  it('reset leaves out, without a word, a selected transport this host cannot use, as start-up does', async () => {
    // Every transport but sm: openib among them, unavailable (no RDMA device here, no soft provider asked for).
    job = await startTrafficJob(['-n', '2', '--mca', 'btl', '^sm']);
    expect(await sendLists(job.jobId)).toEqual([['self', 'tcp'], ['tcp', 'self']]);
    const reset = await verb(job.jobId, 'reset');
    expect(reset).toMatchObject({ ok: true });
    expect(JSON.stringify(reset)).not.toMatch(/openib/);
    // Loading it is refused at once, with the reason, rather than failing in the ranks' commit.
    const load = await ctl(['--job', job.jobId, 'load', 'openib', '--json']);
    expect(load.json).toMatchObject({ ok: false, outcome: 'refused' });
    expect(JSON.stringify(load.json.errors)).toMatch(/btl 'openib' is not available on rank \d: /);
    const out = await job.stop();
    expect(out.code).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 2);
  }, 60_000);

  it('ends a verb with a clear error when a rank stops answering, and the job goes on', async () => {
    job = await startTrafficJob(['-n', '3', ...FAST_AND_TCP]);
    const status = await verb(job.jobId, 'status');
    const pid = status.ranks[2].pid;
    process.kill(pid, 'SIGSTOP');
    try {
      const out = await ctl(['--job', job.jobId, 'switch', 'tcp', '--timeout', '2000', '--json']);
      expect(out.code).toBe(1);
      expect(JSON.stringify(out.json?.errors ?? out.stderr)).toMatch(/rank 2/);
      // Told why, as the launcher sees it: the process is stopped, and how to resume it.
      const why = `its process (pid ${pid}) is stopped (SIGSTOP, Ctrl-Z or a debugger); 'kill -CONT ${pid}' resumes it`;
      expect(out.json?.errors?.[0]?.message).toContain(why);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // The others did not change: the same verb now goes through, and so does the traffic.
    expect(await verb(job.jobId, 'switch', 'tcp')).toMatchObject({ outcome: 'done' });
    await verb(job.jobId, 'reset');
    const out = await job.stop();
    expect(out.code).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
  }, 120_000);

  it('ends a verb with a clear error when a rank is killed during it; the job ends and no rank is left', async () => {
    job = await startTrafficJob(['-n', '3', ...FAST_AND_TCP]);
    const status = await verb(job.jobId, 'status');
    const pids: number[] = status.ranks.map((r: any) => r.pid);
    // Stopped first, so the verb is certainly in flight (waiting on rank 2) when the rank dies.
    process.kill(pids[2]!, 'SIGSTOP');
    const pending = ctl(['--job', job.jobId, 'switch', 'tcp', '--timeout', '60000', '--json']);
    // Killed only once the launcher runs the verb (a ctl process can take seconds to start on a busy machine).
    const inFlight = Date.now() + 30_000;
    while (!(await ctl(['--job', job.jobId, 'status', '--timeout', '1000', '--json'])).json?.verb?.verb && Date.now() < inFlight) {
      await new Promise((r) => setTimeout(r, 200));
    }
    process.kill(pids[2]!, 'SIGKILL');
    const started = Date.now();
    const out = await pending;
    // Bounded by the rank's death, not by the 60 s verb timeout.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(out.code).not.toBe(0);
    expect(out.json ?? out.stderr, out.stdout + out.stderr).toBeTruthy();
    expect(JSON.stringify(out.json ?? out.stderr)).toMatch(/rank 2/);
    expect(JSON.stringify(out.json ?? out.stderr)).toMatch(/SIGKILL|killed|exited|died/);
    // MPI's errors-are-fatal: the launcher aborts the job, naming the rank, and leaves no rank.
    const ended = await job.stop();
    expect(ended.code).not.toBe(0);
    expect(ended.stderr).toMatch(/rank 2/);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  }, 120_000);
});
