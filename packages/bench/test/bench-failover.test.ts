import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFailoverArgs } from '../src/failover/options.js';
import type { FailoverRun } from '../src/failover/run.js';
import { summarizeFailover } from '../src/failover/summary.js';
import { tcpResetSkipReason } from '../src/failover/tcp-reset.js';
import type { RankReport } from '../src/switch/plan.js';
import { cli } from './capture.js';
import { rankReport } from './rank-report.js';

// Behaviour only: real ranks (the rank program comes from dist/, so the package must be built),
// real faults from outside the job (ss -K as root), no number held to a speed.

const dir = mkdtempSync(join(tmpdir(), 'sy-bench-failover-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Resetting TCP connections from outside needs root; where CI is set it must run.
const tcpSkip = process.env.CI ? undefined : tcpResetSkipReason();

/** Live (not zombie) processes whose parent is `ppid`. */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z' && Number(parent) === ppid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

interface KindDoc {
  kind: string;
  skipped: string | null;
  error: string | null;
  faults: number;
  injected: number;
  recovery: { p50: number; p99: number; max: number } | null;
  longestPause: { ms: number; rank: number; fault: number } | null;
  messages: {
    received: number;
    rounds: number;
    lost: number;
    duplicates: number;
    reordered: number;
    corrupt: number;
    unbalanced: number;
  } | null;
  perFault: Array<{ what: string; count: number; recoveryMs: number | null; pauseMs: number | null; backMs: number }>;
  ranks: Array<{ rank: number; sent: number; received: number; rounds: number }>;
}

interface Doc {
  ok: boolean;
  settings: { np: number; faults: number; kinds: string[] };
  kinds: KindDoc[];
  cost: {
    error: string | null;
    latency: { on: number; off: number; cost: number } | null;
    bandwidth: { on: number; off: number; cost: number } | null;
  };
  targets: Array<{ name: string; value: number | null; pass: boolean | null; required: boolean }>;
}

/** Every message arrived once, in order, intact, the ranks in lockstep; a row per rank. */
function expectEveryMessageOnce(k: KindDoc, np: number): void {
  expect(k.messages, k.kind).toMatchObject({ lost: 0, duplicates: 0, reordered: 0, corrupt: 0, unbalanced: 0 });
  expect(k.messages!.rounds).toBeGreaterThan(0);
  expect(k.ranks.map((r) => r.rank)).toEqual(Array.from({ length: np }, (_, r) => r));
  for (const r of k.ranks) expect([r.sent, r.received]).toEqual([(np - 1) * r.rounds, (np - 1) * r.rounds]);
}

/** Both settings of pml_failover measured, and the targets held to them. */
function expectCostMeasured(doc: Doc): void {
  expect(doc.cost.error).toBeNull();
  for (const m of [doc.cost.latency!, doc.cost.bandwidth!]) {
    expect(m.on).toBeGreaterThan(0);
    expect(m.off).toBeGreaterThan(0);
    expect(Number.isFinite(m.cost)).toBe(true);
  }
  expect(doc.targets.filter((t) => t.required).every((t) => t.pass)).toBe(true);
  expect(doc.targets.map((t) => t.name)).toContain('protection cost, tcp latency at 0 B, under 3%');
}

describe('bench failover pieces', () => {
  it('parses its options, with the defaults of the issue', () => {
    expect(parseFailoverArgs([])).toMatchObject({
      np: 8,
      faults: 10,
      intervalMs: 2000,
      kinds: ['tcp-reset', 'tcp-reset-failover', 'device-reset'],
      iterationsScale: 1,
      json: false,
      mca: [],
    });
    expect(
      parseFailoverArgs([
        '-n',
        '3',
        '--faults',
        '2',
        '--kinds',
        'tcp-reset',
        '--interval',
        '600',
        '--json',
        '--mca',
        'bml_peer_timeout',
        '20000',
      ]),
    ).toMatchObject({
      np: 3,
      faults: 2,
      intervalMs: 600,
      kinds: ['tcp-reset'],
      json: true,
      mca: [['bml_peer_timeout', '20000']],
    });
  });

  it('takes recovery from the fault to the end of the longest pause over its window, on the rank that came last', () => {
    const rank = (r: number, windowPauses: RankReport['windowPauses']) => rankReport(r, { windowPauses });
    const fault = (at: number) => ({ at, windowEnd: at + 100, what: '2 tcp sockets killed (ss -K)', count: 2, backMs: 500 });
    const run: FailoverRun = {
      kinds: [
        {
          kind: 'tcp-reset',
          mca: [],
          faults: [fault(1000), fault(3000)],
          ranks: [
            // Fault 1: rank 0's flow stopped before the fault and resumed 20 ms after it; rank 1's 30 ms after.
            rank(0, [{ ms: 25, from: 995, to: 1020 }, { ms: 2, from: 3001, to: 3003 }]),
            rankReport(1, { windowPauses: [{ ms: 28, from: 1002, to: 1030 }, null], longestPause: { ms: 300, from: 3500, to: 3800 } }),
          ],
        },
        { kind: 'device-reset', mca: [], faults: [], skipped: 'no admin library' },
      ],
      cost: { latency: { on: 51, off: 50 }, bandwidth: { on: 90, off: 100 } },
    };
    const s = summarizeFailover(run);
    expect(s.kinds[0]!.faults.map((f) => [f.recoveryMs, f.pauseMs, f.pauseRank])).toEqual([
      [30, 28, 1],
      [3, 2, 0],
    ]);
    expect(s.kinds[0]!.recovery).toEqual({ p50: 3, p99: 30, max: 30 });
    expect(s.kinds[0]!.longestPause).toEqual({ ms: 28, rank: 1, fault: 1 });
    // The longest pause of the whole run came later: 500 ms after the second fault.
    expect(s.kinds[0]!.longestPauseInRun).toEqual({ ms: 300, rank: 1, fault: 2, afterMs: 500 });
    expect(s.kinds[0]!.injected).toBe(4);
    expect(s.cost.latency!.cost).toBeCloseTo(0.02);
    expect(s.cost.bandwidth!.cost).toBeCloseTo(0.1);
    expect(s.targets.map((t) => [t.name, t.pass])).toEqual([
      ['tcp-reset: recovery p50 under 50 ms', true],
      ['tcp-reset: zero loss (lost, duplicated, reordered, damaged)', true],
      ['protection cost, tcp latency at 0 B, under 3%', true],
      ['protection cost, tcp bandwidth at 4 KiB, under 3%', false],
    ]);
    expect(s.complete).toBe(true);
  });
});

describe('switchyard bench failover', () => {
  it.skipIf(tcpSkip !== undefined)(
    `resets the job's tcp connections from outside (ss -K): faults injected, every message once, in order; JSON only on stdout, no ` +
      `process left${tcpSkip ? ` (skipped: ${tcpSkip})` : ''}`,
    async () => {
      const before = childrenOf(process.pid);
      const { code, stdout, stderr } = await cli(
        [
          'bench',
          'failover',
          '-n',
          '3',
          '--faults',
          '2',
          '--interval',
          '600',
          '--kinds',
          'tcp-reset,tcp-reset-failover',
          '--iterations-scale',
          '0.02',
          '--json',
        ],
        { cwd: dir },
      );
      expect(code, stderr).toBe(0);
      const doc = JSON.parse(stdout) as Doc;
      expect(doc).toMatchObject({ ok: true, settings: { np: 3, faults: 2, kinds: ['tcp-reset', 'tcp-reset-failover'] } });
      expect(doc.kinds.map((k) => k.kind)).toEqual(['tcp-reset', 'tcp-reset-failover']);
      for (const k of doc.kinds) {
        expect(k, k.kind).toMatchObject({ skipped: null, error: null, faults: 2 });
        // Really injected: ss -K killed sockets at every fault, and the job got tcp back each time.
        for (const f of k.perFault) {
          expect(f.count).toBeGreaterThan(0);
          expect(f.what).toMatch(/^\d+ tcp sockets killed \(ss -K\)$/);
          expect(f.recoveryMs).toBeGreaterThanOrEqual(0);
          expect(f.backMs).toBeGreaterThan(0);
        }
        expect(k.injected).toBeGreaterThanOrEqual(2);
        expect(k.recovery!.p50).toBeLessThanOrEqual(k.recovery!.p99);
        expect(k.longestPause!.ms).toBeGreaterThan(0);
        expectEveryMessageOnce(k, 3);
      }
      expectCostMeasured(doc);
      expect(stderr).toContain('switchyard bench: tcp-reset: fault 2/2: ');
      expect(childrenOf(process.pid).filter((pid) => !before.includes(pid))).toEqual([]);
    },
    120_000,
  );

  it("resets one rank's soft verbs device from outside, a different rank each time: the job reloads openib by itself; every message " +
    'once, in order', async () => {
    const before = childrenOf(process.pid);
    const { code, stdout, stderr } = await cli(
      [
        'bench',
        'failover',
        '-n',
        '3',
        '--faults',
        '2',
        '--interval',
        '600',
        '--kinds',
        'device-reset',
        '--iterations-scale',
        '0.02',
        '--json',
      ],
      { cwd: dir },
    );
    expect(code, stderr).toBe(0);
    const doc = JSON.parse(stdout) as Doc;
    expect(doc.ok).toBe(true);
    const [device] = doc.kinds;
    expect(device).toMatchObject({ kind: 'device-reset', skipped: null, error: null, faults: 2, injected: 2 });
    expect(device!.perFault.map((f) => f.what)).toEqual(["rank 0's soft0 reset", "rank 1's soft0 reset"]);
    for (const f of device!.perFault) expect(f.backMs).toBeGreaterThan(0);
    expectEveryMessageOnce(device!, 3);
    expect(stderr).toMatch(/btl openib failed on rank 0 and is back/);
    expectCostMeasured(doc);
    expect(childrenOf(process.pid).filter((pid) => !before.includes(pid))).toEqual([]);
  }, 120_000);

  it('prints a table per kind, the per-rank rows and the targets when not asked for JSON', async () => {
    const { code, stdout, stderr } = await cli(
      ['bench', 'failover', '-n', '2', '--faults', '1', '--interval', '500', '--kinds', 'device-reset', '--iterations-scale', '0.02'],
      { cwd: dir },
    );
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^switchyard bench failover: 2 ranks, 1 fault per kind 500 ms apart;/);
    expect(stdout).toMatch(/\n {2}kind +status +faults +p50 +p99 +pause +lost +dup +reord +damaged\n {2}device-reset +ran +1 +[\d.]+ +[\d.]+ +[\d.]+ +0 +0 +0 +0\n/);
    expect(stdout).toMatch(/\n {2}rank +sent +received +rounds +longest pause ms\n {2}0 +[\d,]+ +[\d,]+ /);
    expect(stdout).toMatch(/latency 0 B, µs +[\d.]+ +[\d.]+ +-?[\d.]+%/);
    expect(stdout).toMatch(/device-reset: recovery p50 under 50 ms +[\d.]+ ms +(PASS|MISS)/);
    expect(stdout).toMatch(/device-reset: zero loss .* 0 +PASS/);
  }, 90_000);

  it('prints usage with --help', async () => {
    const { code, stdout } = await cli(['bench', 'failover', '--help'], { cwd: dir });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: switchyard bench failover \[-n N\] \[--faults K\]/);
    expect(stdout).toContain('tcp-reset-failover');
    expect((await cli(['bench', '--help'], { cwd: dir })).stdout).toContain('switchyard bench failover');
  });

  it.each([
    [['-n', '1'], "-n takes a whole number of ranks from 2 to 64, got '1'"],
    [['--faults', '0'], "--faults takes a whole number of faults from 1 to 10000, got '0'"],
    [['--interval', '100'], "--interval takes milliseconds from 500 to 600000, got '100'"],
    [['--kinds', 'tcp-reset,cable-cut'], "--kinds: unknown fault kind 'cable-cut'; kinds: tcp-reset, tcp-reset-failover, device-reset"],
    [['--kinds', ','], '--kinds needs at least one of tcp-reset, tcp-reset-failover, device-reset'],
    [['--iterations-scale', '0'], "--iterations-scale takes a number greater than 0 and at most 1000 (e.g. 0.1), got '0'"],
    [['--mca', 'pml_failover', 'false'], '--mca pml_failover is set by the bench itself'],
    [['--mca', 'btl', 'tcp,self'], '--mca btl is set by the bench itself'],
    [['now'], "unexpected argument 'now'"],
  ])('refuses %j with a usage error', async (argv, message) => {
    const { code, stdout, stderr } = await cli(['bench', 'failover', ...argv], { cwd: dir });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`switchyard bench failover: ${message}`);
    expect(stderr).toContain("Run 'switchyard bench failover --help' for usage.");
  });
});
