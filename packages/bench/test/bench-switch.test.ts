import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childrenOf, groupMembers } from '@switchyard/cli-kit';
import { analyseFlow } from '../src/switch/flow.js';
import { encodeMessage, FlowChecker, makePattern, messageSize } from '../src/switch/messages.js';
import { parseSwitchArgs, parseVerbList } from '../src/switch/options.js';
import type { RankReport, StopOrder, TrafficShape } from '../src/switch/plan.js';
import { percentile, summarize, type VerbRun } from '../src/switch/summary.js';
import { cli } from './capture.js';
import { rankReport } from './rank-report.js';
import { CLI } from './spawn-cli.js';

// Behaviour only: the bench's ranks really run (the rank program comes from dist/, so the package
// must be built), but no number is held to a speed.

const dir = mkdtempSync(join(tmpdir(), 'sy-bench-switch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DEFAULT_CYCLE = ['switch tcp', 'reset', 'unload openib', 'load openib', 'checkpoint prepare', 'checkpoint continue'];

interface Doc {
  ok: boolean;
  error: string | null;
  settings: { np: number; cycles: number; verbs: string[]; mca: Array<[string, string]> };
  verbs: Array<{ verb: string; count: number; failed: number; p50: number; p99: number; max: number; during: { msgsPerSec: number } }>;
  runs: Array<{ cycle: number; verb: string; ms: number; outcome: string; prepareMs: number | null; commitMs: number | null }>;
  longestPause: { ms: number; rank: number } | null;
  throughput: { outside: { msgsPerSec: number; messages: number }; during: { msgsPerSec: number; messages: number } };
  messages: { received: number; rounds: number; lost: number; duplicates: number; reordered: number; corrupt: number; unbalanced: number };
  targets: Array<{ name: string; pass: boolean | null; required: boolean }>;
  ranks: Array<{
    rank: number;
    rounds: number;
    messages: number;
    sent: number;
    received: number;
    sentTo: number[];
    receivedFrom: number[];
  }>;
  timeline: { bucketMs: number; messages: number[] };
}

describe('switch bench pieces', () => {
  const traffic: TrafficShape = { smallMin: 32, smallMax: 100, rndvSize: 4096, rndvEvery: 4, checkEvery: 8 };

  it('parses the cycle of verbs as ctl spells them', () => {
    expect(parseVerbList('switch tcp, reset, unload openib, load openib, checkpoint prepare, checkpoint continue')).toEqual([
      { verb: 'switch', btls: ['tcp'] },
      { verb: 'reset' },
      { verb: 'unload', btl: 'openib' },
      { verb: 'load', btl: 'openib' },
      { verb: 'checkpoint', phase: 'prepare' },
      { verb: 'checkpoint', phase: 'continue' },
    ]);
    // A switch's BTL list and a --ranks list keep their commas; ';' separates too.
    expect(parseVerbList('switch tcp,openib, reset; switch tcp --ranks 0,2-3, reset --ranks 1', 4)).toEqual([
      { verb: 'switch', btls: ['tcp', 'openib'] },
      { verb: 'reset' },
      { verb: 'switch', btls: ['tcp'], ranks: [0, 2, 3] },
      { verb: 'reset', ranks: [1] },
    ]);
    expect(parseVerbList('apply --mca btl_tcp_latency 50')).toEqual([{ verb: 'apply', mca: [['btl_tcp_latency', '50']] }]);
    const defaults = parseSwitchArgs([]);
    expect(defaults).toMatchObject({ np: 8, cycles: 20, gapMs: 100, json: false });
    expect(defaults.verbs).toHaveLength(6);
    expect(defaults.mca).toEqual([
      ['btl', 'openib,tcp,self'],
      ['btl_openib_provider', 'soft'],
      ['btl_tcp_if_include', '127.0.0.0/8'],
    ]);
    // The user's parameters replace the defaults they name.
    expect(parseSwitchArgs(['--mca', 'btl', 'tcp,self']).mca).toEqual([
      ['btl_openib_provider', 'soft'],
      ['btl_tcp_if_include', '127.0.0.0/8'],
      ['btl', 'tcp,self'],
    ]);
  });

  it('checks every message: order per source, duplicates, losses, damage', () => {
    const pattern = makePattern(traffic);
    const msg = (source: number, index: number) => encodeMessage(pattern, traffic, source, 1, index);
    expect(messageSize(traffic, 0, 1, 3)).toBe(4096);
    expect(msg(0, 0).length).toBeGreaterThanOrEqual(32);

    const ok = new FlowChecker(pattern, traffic, 1, 3);
    for (let i = 0; i < 20; i++) for (const s of [0, 2]) expect(ok.accept(msg(s, i), s)).toBe(true);
    expect(ok.integrity()).toEqual({ lost: 0, duplicates: 0, reordered: 0, corrupt: 0 });

    const bad = new FlowChecker(pattern, traffic, 1, 3);
    bad.accept(msg(0, 0), 0);
    bad.accept(msg(0, 0), 0); // duplicate
    bad.accept(msg(0, 2), 0); // 1 skipped...
    bad.accept(msg(0, 1), 0); // ...and late: reordered
    bad.accept(msg(0, 5), 0); // 3 and 4 never come: lost
    bad.accept(msg(2, 0), 0); // from rank 2, delivered as from rank 0: damaged (and a duplicate index)
    const damaged = msg(2, 0);
    damaged[damaged.length - 1]! ^= 0xff;
    bad.accept(damaged, 2);
    expect(bad.integrity()).toEqual({ lost: 2, duplicates: 2, reordered: 1, corrupt: 2 });
  });

  it('finds pauses, blocks and throughput inside and outside verb windows', () => {
    // An arrival every ms from 0 to 1000, except none from 500 to 540 (inside the 2nd window).
    const times: number[] = [];
    for (let t = 0; t <= 1000; t++) if (t <= 500 || t >= 540) times.push(t);
    const sizes = times.map(() => 10);
    const order: StopOrder = {
      span: [100, 900],
      verbs: 2,
      bucketMs: 100,
      windows: [
        { verb: 0, cycle: 1, start: 200, end: 220 },
        { verb: 1, cycle: 1, start: 490, end: 560 },
        { verb: 0, cycle: 2, start: 700, end: 750 },
      ],
    };
    const a = analyseFlow(times, sizes, order, { from: [300, 520], to: [310, 530] });
    expect(a.longestPause).toEqual({ ms: 40, from: 500, to: 540 });
    // The longest gap that overlaps no window: all are 1 ms apart outside the 500-540 gap.
    expect(a.longestPauseBetween).toEqual({ ms: 1, from: 100, to: 101 });
    expect(a.perVerb[1]!.longestPause).toMatchObject({ ms: 40, cycle: 1 });
    expect(a.perVerb[0]!.longestPause).toMatchObject({ ms: 1 });
    expect(a.perVerb[0]!.messages).toBe(21 + 51);
    expect(a.perVerb[1]!.messages).toBe(11 + 21);
    expect(a.inside.messages).toBe(21 + 32 + 51);
    expect(a.inside.messages + a.outside.messages).toBe(801 - 39);
    expect(a.inside.bytes).toBe(10 * a.inside.messages);
    expect(a.longestBlock).toEqual({ ms: 10, from: 300, to: 310 });
    expect(a.perVerb[1]!.longestBlock).toMatchObject({ ms: 10, from: 520 });
    expect(a.perVerb[0]!.longestBlock).toBeNull();
    expect(a.timeline).toEqual([100, 100, 100, 100, 61, 100, 100, 100, 1]);
  });

  it('summarises per verb name and holds the numbers to the targets', () => {
    expect(percentile([5, 1, 4, 2, 3], 0.5)).toBe(3);
    expect(percentile([1, 2, 3, 4], 0.99)).toBe(4);
    const verbs = parseVerbList('switch tcp, unload openib, load openib');
    const run = (index: number, cycle: number, start: number, ms: number): VerbRun => ({
      index,
      cycle,
      verb: ['switch tcp', 'unload openib', 'load openib'][index]!,
      start,
      end: start + ms,
      ms,
      coordinatorMs: ms,
      outcome: 'done',
      errors: [],
      prepareMs: 1,
      commitMs: ms - 1,
      rankCommitMs: ms - 2,
      lastRank: 0,
    });
    const runs = [run(0, 1, 100, 4), run(1, 1, 200, 90), run(2, 1, 300, 100), run(0, 2, 500, 12), run(1, 2, 600, 70), run(2, 2, 700, 80)];
    const order: StopOrder = { span: [0, 1000], verbs: 3, bucketMs: 100, windows: [] };
    const rank = (r: number, pauseMs: number): RankReport =>
      rankReport(r, {
        inside: { messages: 3, bytes: 30 },
        outside: { messages: 7, bytes: 70 },
        longestPause: { ms: pauseMs, from: 310, to: 310 + pauseMs },
        longestPauseBetween: { ms: pauseMs / 2, from: 400, to: 400 + pauseMs / 2 },
        perVerb: [0, 1, 2].map(() => ({ messages: 1, bytes: 10, longestPause: null, longestBlock: null })),
      });
    const s = summarize(verbs, runs, order, [rank(0, 20), rank(1, 70)]);
    expect(s.verbs.map((v) => [v.verb, v.count, v.p50, v.max])).toEqual([
      ['switch tcp', 2, 4, 12],
      ['unload openib', 2, 70, 90],
      ['load openib', 2, 80, 100],
    ]);
    expect(s.longestPause).toMatchObject({ ms: 70, rank: 1, verb: 'load openib', cycle: 1 });
    expect(s.longestPauseBetween).toMatchObject({ ms: 35, rank: 1 });
    // Inside: 6 windows, 356 ms of the 1000 ms span; 6 of 20 messages.
    expect(s.throughput.during.msgsPerSec).toBeCloseTo(6 / 0.356);
    expect(s.throughput.outside.msgsPerSec).toBeCloseTo(14 / 0.644);
    expect(s.targets.map((t) => [t.name, t.pass])).toEqual([
      ['switch p50 under 10 ms', true],
      ['unload + load openib p50 under 150 ms', false], // 70 + 80: not under 150
      ['no pause longer than 50 ms', false],
      ['zero loss (lost, duplicated, reordered, damaged)', true],
    ]);
  });
});

describe('switchyard bench switch', () => {
  it('cycles every verb under all-to-all traffic: all timed, zero loss, JSON only on stdout, no process left', async () => {
    const before = childrenOf(process.pid);
    const { code, stdout, stderr } = await cli(['bench', 'switch', '-n', '3', '--cycles', '2', '--json'], { cwd: dir });
    expect(code, stderr).toBe(0);
    const doc = JSON.parse(stdout) as Doc;
    expect(doc).toMatchObject({ ok: true, error: null, settings: { np: 3, cycles: 2, verbs: DEFAULT_CYCLE } });

    // Every verb of every cycle ran and was timed.
    expect(doc.runs.map((r) => `${r.cycle} ${r.verb}`)).toEqual([1, 2].flatMap((c) => DEFAULT_CYCLE.map((v) => `${c} ${v}`)));
    for (const r of doc.runs) {
      expect(r.outcome).toBe('done');
      expect(r.ms).toBeGreaterThan(0);
      expect(r.prepareMs).toBeGreaterThan(0);
      expect(r.commitMs).toBeGreaterThan(0);
    }
    expect(doc.verbs.map((v) => v.verb)).toEqual(DEFAULT_CYCLE);
    for (const v of doc.verbs) {
      expect(v).toMatchObject({ count: 2, failed: 0 });
      for (const x of [v.p50, v.p99, v.max]) expect(x).toBeGreaterThan(0);
      expect(v.p50).toBeLessThanOrEqual(v.p99);
    }

    // Every message arrived exactly once, in order, intact; ranks in lockstep.
    expect(doc.messages).toMatchObject({ lost: 0, duplicates: 0, reordered: 0, corrupt: 0, unbalanced: 0 });
    expect(doc.messages.rounds).toBeGreaterThan(0);
    expect(doc.messages.received).toBe(doc.ranks.reduce((n, r) => n + r.messages, 0));
    expect(doc.ranks.map((r) => r.rank)).toEqual([0, 1, 2]);
    for (const r of doc.ranks) expect(r.messages).toBe(2 * r.rounds);
    // A row per rank with what it sent and received, per peer too: a starved rank would show.
    for (const r of doc.ranks) {
      expect(r.received).toBe(r.messages);
      expect(r.sent).toBe(2 * r.rounds);
      expect(r.sentTo).toHaveLength(3);
      expect(r.sentTo[r.rank]).toBe(0);
      expect(r.receivedFrom.reduce((a, b) => a + b, 0)).toBe(r.received);
    }

    expect(doc.throughput.outside.msgsPerSec).toBeGreaterThan(0);
    expect(doc.throughput.during.msgsPerSec).toBeGreaterThan(0);
    expect(doc.longestPause?.ms).toBeGreaterThan(0);
    expect(doc.timeline.messages.reduce((a, b) => a + b, 0)).toBe(doc.throughput.outside.messages + doc.throughput.during.messages);
    expect(doc.targets.map((t) => t.pass)).not.toContain(null);
    expect(doc.targets.find((t) => t.required)).toMatchObject({ pass: true });

    // Progress went to stderr, a line per cycle (not a terminal).
    expect(stderr).toMatch(/switchyard bench: cycle 1\/2: switch tcp [\d.]+ ms, reset [\d.]+ ms/);
    expect(stderr).toContain('switchyard bench: cycle 2/2: ');
    expect(childrenOf(process.pid).filter((pid) => !before.includes(pid))).toEqual([]);
  }, 90_000);

  it('prints the table and the targets when not asked for JSON', async () => {
    const { code, stdout, stderr } = await cli(
      ['bench', 'switch', '-n', '2', '--cycles', '1', '--verbs', 'switch tcp, reset', '--gap', '20'],
      { cwd: dir },
    );
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^switchyard bench switch: 2 ranks, 1 cycle;/);
    expect(stdout).toMatch(/\n {2}verb +count +p50 +p99 +max +prepare +commit +in rank +pause +block +msgs\/s\n/);
    expect(stdout).toMatch(/\n {2}switch tcp +1 +[\d.]+ +[\d.]+ +[\d.]+ /);
    expect(stdout).toMatch(/\n {2}reset +1 /);
    expect(stdout).toMatch(/throughput +[\d,]+ msgs\/s outside verbs/);
    expect(stdout).toMatch(/messages +[\d,]+ received .*: 0 lost, 0 duplicated, 0 reordered, 0 damaged/);
    expect(stdout).toMatch(/switch p50 under 10 ms +[\d.]+ ms +(PASS|MISS)/);
    expect(stdout).toMatch(/unload \+ load p50 under 150 ms +- +n\/a/);
    expect(stdout).toMatch(/zero loss .* 0 +PASS/);
    // The per-rank rows: sent and received, equal in lockstep.
    expect(stdout).toMatch(/\n {2}rank +sent +received +rounds +longest pause ms\n/);
    for (const rank of [0, 1]) {
      const row = new RegExp(`\\n {2}${rank} +([\\d,]+) +([\\d,]+) +([\\d,]+) +[\\d.]+\\n`).exec(stdout);
      expect(row, `rank ${rank}'s row`).not.toBeNull();
      expect(row![1]).toBe(row![2]);
      expect(Number(row![1]!.replace(/,/g, ''))).toBeGreaterThan(0);
    }
  }, 60_000);

  it('exits 1 naming the verb when one is refused, after ending every process', async () => {
    const before = childrenOf(process.pid);
    const { code, stdout, stderr } = await cli(
      ['bench', 'switch', '-n', '2', '--cycles', '3', '--verbs', 'reset, load tcp', '--gap', '20', '--json'],
      { cwd: dir },
    );
    expect(code).toBe(1);
    const doc = JSON.parse(stdout) as Doc;
    expect(doc.ok).toBe(false);
    expect(doc.error).toMatch(/^cycle 1: 'load tcp' was refused: .*btl 'tcp' is already loaded/);
    expect(doc.runs.map((r) => `${r.verb} ${r.outcome}`)).toEqual(['reset done', 'load tcp refused']);
    expect(doc.messages).toMatchObject({ lost: 0, duplicates: 0, reordered: 0, corrupt: 0 });
    expect(stderr).toContain("switchyard bench switch: cycle 1: 'load tcp' was refused");
    expect(childrenOf(process.pid).filter((pid) => !before.includes(pid))).toEqual([]);
  }, 60_000);

  it('prints usage with --help', async () => {
    const { code, stdout } = await cli(['bench', 'switch', '--help'], { cwd: dir });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: switchyard bench switch \[-n N\] \[--cycles K\] \[--verbs LIST\]/);
    const bench = await cli(['bench', '--help'], { cwd: dir });
    expect(bench.stdout).toContain('switchyard bench switch');
  });

  it.each([
    [['-n', '1'], "-n takes a whole number of ranks from 2 to 64, got '1'"],
    [['-n', 'many'], "-n takes a whole number of ranks from 2 to 64, got 'many'"],
    [['-n', '99'], "-n takes a whole number of ranks from 2 to 64, got '99'"],
    [['--cycles', '0'], "--cycles takes a whole number of cycles from 1 to 100000, got '0'"],
    [['--cycles', '2.5'], "--cycles takes a whole number of cycles from 1 to 100000, got '2.5'"],
    [['--gap', '-5'], "--gap takes milliseconds from 0 to 60000, got '-5'"],
    [['--verbs', ''], '--verbs needs at least one verb'],
    [['--verbs', 'reset, frobnicate'], "--verbs: 'frobnicate': unknown verb 'frobnicate'"],
    [['--verbs', 'unload openib, tcp'], "--verbs: 'tcp': unknown verb 'tcp'"],
    [['--verbs', 'switch'], "--verbs: 'switch': switch needs at least one BTL"],
    [['--verbs', 'checkpoint pause'], "--verbs: 'checkpoint pause': checkpoint needs a phase: prepare, continue or restart, got 'pause'"],
    [['--verbs', 'unload openib tcp'], "--verbs: 'unload openib tcp': unexpected 'tcp': unload BTL"],
    [
      ['-n', '3', '--verbs', 'switch tcp --ranks 5'],
      "--verbs: 'switch tcp --ranks 5': rank 5 in rank list '5' does not exist: the job has ranks 0-2",
    ],
    [['latency'], "unexpected argument 'latency'"],
    [['--frobnicate'], "unknown option '--frobnicate'"],
    [['--mca', 'btl'], "option '--mca' needs two values: --mca KEY VALUE"],
  ])('refuses %j with a usage error', async (argv, message) => {
    const { code, stdout, stderr } = await cli(['bench', 'switch', ...argv], { cwd: dir });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`switchyard bench switch: ${message}`);
    expect(stderr).toContain("Run 'switchyard bench switch --help' for usage.");
  });

  it.each([
    ['switch', '--cycles', '0'],
    ['coll', '-n', '0'],
    ['failover', '-n', '0'],
    ['checkpoint', '--np', '0'],
    ['chart'],
  ])('answers a usage error of bench %s on stdout too when asked for --json', async (...argv) => {
    const { code, stdout, stderr } = await cli(['bench', ...argv, '--json'], { cwd: dir });
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toMatchObject({ ok: false, outcome: 'usage', code: 'ERR_SWITCHYARD_USAGE' });
    expect(stderr).toContain(`Run 'switchyard bench ${argv[0]} --help' for usage.`);
  });

  it('ends every process it started when interrupted, leaving no soft verbs socket of its ranks', async () => {
    // The ranks' soft verbs devices put their sockets under TMPDIR: one of the test's own.
    const temp = mkdtempSync(join(dir, 'tmp-'));
    const child = spawn(process.execPath, [CLI, 'bench', 'switch', '-n', '3', '--cycles', '1000'], {
      cwd: dir,
      env: { ...process.env, HOME: dir, TMPDIR: temp },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stderr = '';
    const started = new Promise<void>((resolve) =>
      child.stderr.on('data', (d) => {
        stderr += d;
        if (stderr.includes('cycle 1/1000: ')) resolve();
      }),
    );
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      await started;
      expect(groupMembers(child.pid!).length).toBe(4); // the bench and 3 ranks
      child.kill('SIGINT');
      expect(await closed).toBe(130);
      expect(stderr).toContain('switchyard bench switch: interrupted by SIGINT; every process it started has ended');
      expect(groupMembers(child.pid!)).toEqual([]);
      const sockets = readdirSync(temp, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.sock'));
      expect(sockets).toEqual([]);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
  }, 60_000);
});
