import { describe, expect, it } from 'vitest';
import { compare } from '../src/compare.js';
import { parseBenchArgs } from '../src/options.js';
import { buildPhases } from '../src/plan.js';
import { renderText, resultsDocument } from '../src/report.js';
import { evaluateTargets } from '../src/targets.js';
import type { ProgressMode, TransportRun } from '../src/types.js';

// The targets of issue 15, evaluated on hand-made results: which ones appear, PASS and MISS, and
// how the text report and --json carry them. No process runs.

const K = 1024;
const M = 1024 * K;

function run(transport: string, mode: ProgressMode, latency: Record<number, number>, bandwidth: Record<number, number> = {}): TransportRun {
  return {
    transport,
    mode,
    latency: Object.entries(latency).map(([size, usec]) => ({ size: Number(size), usec })),
    bandwidth: Object.entries(bandwidth).map(([size, mbps]) => ({ size: Number(size), mbps })),
  };
}

const ids = (runs: TransportRun[]) => evaluateTargets(runs).map((t) => `${t.mode} ${t.id}`);

describe('issue 15 targets', () => {
  it('holds sm busy latency to 1 µs at 0-64 B only, in busy mode only', () => {
    const runs = [
      run('switchyard-sm', 'busy', { 0: 0.4, 8: 0.9, 64: 1.3, 512: 5, [4 * K]: 9 }),
      run('switchyard-sm', 'sleep', { 0: 3, 8: 3, 64: 3 }),
    ];
    const [t, ...rest] = evaluateTargets(runs);
    expect(rest).toEqual([]);
    expect(t).toMatchObject({ id: 'sm-busy-latency', mode: 'busy', baseline: null, pass: false });
    expect(t!.points.map((p) => p.size)).toEqual([0, 8, 64]);
    expect(t!.misses).toEqual([{ size: 64, value: 1.3, bound: 1, pass: false }]);
    const passing = evaluateTargets([run('switchyard-sm', 'busy', { 0: 0.3, 64: 1 })]);
    expect(passing).toMatchObject([{ id: 'sm-busy-latency', pass: true, misses: [] }]);
  });

  it("holds sm sleeping latency to raw-node-uds's at 0-512 B, only when raw-node-uds ran", () => {
    const sm = run('switchyard-sm', 'sleep', { 0: 9, 64: 10, 512: 14, [4 * K]: 40 });
    expect(ids([sm])).toEqual([]);
    expect(ids([sm, run('raw-node-tcp', 'sleep', { 0: 8, 64: 8, 512: 9 })])).toEqual([]);
    const uds = run('raw-node-uds', 'sleep', { 0: 10, 64: 10, 512: 12, [4 * K]: 13 });
    const [t] = evaluateTargets([sm, uds]);
    expect(t).toMatchObject({ id: 'sm-sleep-latency', mode: 'sleep', transport: 'switchyard-sm', baseline: 'raw-node-uds', pass: false });
    expect(t!.points.map((p) => [p.size, p.pass])).toEqual([
      [0, true],
      [64, true],
      [512, false],
    ]);
    expect(t!.misses).toMatchObject([{ size: 512, value: 14, bound: 12 }]);
  });

  it("holds sm bandwidth at 1 and 4 MiB to ompi-vader's in both modes", () => {
    const runs = (mode: ProgressMode, sm4m: number) => [
      run('switchyard-sm', mode, {}, { [64 * K]: 100, [M]: 9000, [4 * M]: sm4m }),
      run('ompi-vader', mode, {}, { [64 * K]: 5000, [M]: 8000, [4 * M]: 11000 }),
    ];
    const results = evaluateTargets([...runs('sleep', 12000), ...runs('busy', 10000)]);
    expect(results.map((t) => [t.mode, t.id, t.pass])).toEqual([
      ['sleep', 'sm-bandwidth', true],
      ['busy', 'sm-bandwidth', false],
    ]);
    expect(results[0]!.points.map((p) => p.size)).toEqual([M, 4 * M]);
    expect(results[1]!.misses).toMatchObject([{ size: 4 * M, value: 10000, bound: 11000 }]);
  });

  it("holds openib to tcp's bandwidth from 64 KiB up and to its latency at every size", () => {
    const runs = [
      run('switchyard-openib', 'sleep', { 0: 20, [32 * K]: 40 }, { [4 * K]: 100, [64 * K]: 2000, [4 * M]: 5000 }),
      run('switchyard-tcp', 'sleep', { 0: 25, [32 * K]: 39 }, { [4 * K]: 300, [64 * K]: 1900, [4 * M]: 5000 }),
    ];
    const results = evaluateTargets(runs);
    expect(results.map((t) => [t.id, t.pass])).toEqual([
      ['openib-bandwidth', true],
      ['openib-latency', false],
    ]);
    // 4 KiB is below the held sizes: openib's 100 MB/s there is no miss.
    expect(results[0]!.points.map((p) => p.size)).toEqual([64 * K, 4 * M]);
    expect(results[1]!.misses).toMatchObject([{ size: 32 * K, value: 40, bound: 39 }]);
    // Without tcp's run neither side is there to compare with.
    expect(ids([runs[0]!])).toEqual([]);
  });

  it('gives no result when the two sides share no held size', () => {
    const runs = [
      run('switchyard-sm', 'busy', { [4 * K]: 2 }),
      run('switchyard-sm', 'sleep', { 64: 9 }),
      run('raw-node-uds', 'sleep', { 8: 9 }),
    ];
    expect(ids(runs)).toEqual([]);
  });

  it("keeps btl-tcp's targets against raw Node TCP: latency 1.2x, bandwidth 0.9x at 4 KiB and from 1 MiB", () => {
    const runs = [
      run('switchyard-tcp', 'sleep', { 0: 30 }, { [4 * K]: 400, [64 * K]: 100, [M]: 3000 }),
      run('raw-node-tcp', 'sleep', { 0: 20 }, { [4 * K]: 1000, [64 * K]: 2000, [M]: 3100 }),
    ];
    const results = evaluateTargets(runs);
    expect(results.map((t) => [t.id, t.pass, t.inTables])).toEqual([
      ['tcp-latency', false, true],
      ['tcp-bandwidth', false, true],
    ]);
    expect(results[0]!.misses).toMatchObject([{ size: 0, value: 30, bound: 24, ratio: 1.5 }]);
    expect(results[1]!.misses.map((p) => p.size)).toEqual([4 * K]);
  });
});

describe('issue 15 targets in the report', () => {
  const runs = [
    run('switchyard-sm', 'busy', { 0: 0.5, 64: 1.5 }, { [M]: 9000 }),
    run('switchyard-tcp', 'busy', { 0: 8, 64: 9 }, { [M]: 3000 }),
    run('raw-node-tcp', 'busy', { 0: 7, 64: 8 }, { [M]: 3200 }),
    run('ompi-vader', 'busy', { 0: 0.2, 64: 0.3 }, { [M]: 8000 }),
  ];
  const options = parseBenchArgs(['--btl', 'sm,tcp', '--raw', 'tcp', '--ompi-btl', 'vader', '--progress', 'busy', '--sizes', '0,64,1m']);

  it('prints a line per target with the range measured and the sizes that miss', () => {
    const text = renderText(options, runs, compare(runs));
    const lines = text.slice(text.indexOf('Targets (')).split('\n');
    expect(lines).toContain('  busy: btl-tcp latency within 1.2x of raw Node TCP: PASS at all 2 sizes (0 1.14x, 64 1.13x)');
    expect(lines).toContain(
      '  busy: sm busy half round trip at most 1 µs at 0-64 B: MISS at 1 of 2 sizes (switchyard-sm 0.50-1.50 µs): 64 1.50 µs > 1.00 µs',
    );
    expect(lines).toContain(
      "  busy: sm bandwidth at 1 and 4 MiB at least ompi-vader's: PASS at the only size (switchyard-sm 9000 MB/s, 1.13x ompi-vader)",
    );
    expect(text).not.toContain('openib');
  });

  it('lists every target that ran in --json, with its misses', () => {
    const doc = resultsDocument(options, buildPhases(options.benchmarks, options.sizes, 1), runs, compare(runs));
    expect(doc.settings.raw).toEqual(['raw-node-tcp']);
    expect(doc.targets.map((t) => t.id)).toEqual(['tcp-latency', 'tcp-bandwidth', 'sm-busy-latency', 'sm-bandwidth']);
    expect(doc.targets.find((t) => t.id === 'sm-busy-latency')).toEqual({
      id: 'sm-busy-latency',
      description: 'sm busy half round trip at most 1 µs at 0-64 B',
      mode: 'busy',
      benchmark: 'latency',
      transport: 'switchyard-sm',
      baseline: null,
      pass: false,
      sizes: [0, 64],
      misses: [{ size: 64, value: 1.5, bound: 1 }],
    });
  });
});
