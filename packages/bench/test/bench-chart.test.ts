import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './capture.js';

// `switchyard bench chart` draws a saved --json output; the SVG is read back as text.

const dir = mkdtempSync(join(tmpdir(), 'sy-bench-chart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const latency = (usec: number[]) => [0, 8, 4096, 1048576].map((size, i) => ({ size, usec: usec[i]! }));
const bandwidth = (mbps: number[]) => [4096, 65536, 1048576].map((size, i) => ({ size, mbps: mbps[i]! }));
const RESULTS = {
  switchyard: '0.1.0',
  machine: { node: 'v20.20.2', cpus: 2, cpuModel: 'Test CPU <2 GHz>', platform: 'linux', arch: 'x64' },
  settings: { benchmarks: ['latency', 'bandwidth'], btls: ['tcp'], modes: ['sleep', 'busy'], iterationsScale: 0.3 },
  runs: [
    { transport: 'switchyard-tcp', mode: 'sleep', latency: latency([40, 41, 60, 2500]), bandwidth: bandwidth([300, 900, 1500]) },
    { transport: 'raw-node-tcp', mode: 'sleep', latency: latency([30, 31, 45, 2200]), bandwidth: bandwidth([350, 1000, 1700]) },
    { transport: 'ompi-tcp', mode: 'sleep', latency: latency([12, 12, 20, 900]), bandwidth: bandwidth([900, 2500, 3100]) },
    { transport: 'switchyard-tcp', mode: 'busy', latency: latency([25, 26, 40, 2300]), bandwidth: bandwidth([320, 950, 1550]) },
    { transport: 'raw-node-tcp', mode: 'busy', latency: latency([20, 21, 33, 2100]), bandwidth: bandwidth([360, 1100, 1750]) },
    { transport: 'ompi-tcp', mode: 'busy', latency: latency([12, 12, 20, 900]), bandwidth: bandwidth([900, 2500, 3100]) },
  ],
  comparisons: [],
};

function save(name: string, content: unknown): string {
  writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  return name;
}

/** The panels of a chart, each with its series (and how many points each draws), ticks and titles. */
function read(svg: string) {
  const panels = svg.split('<g class="panel"').slice(1);
  const texts = (part: string, cls: string) =>
    [...part.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, 'g'))].map((m) => m[1]);
  return {
    title: texts(svg, 'title')[0],
    panels: panels.map((p) => ({
      benchmark: /data-benchmark="(\w+)"/.exec(p)![1],
      title: texts(p, 'panel-title')[0],
      series: [...p.matchAll(/data-series="([^"]+)">[\s\S]*?<polyline points="([^"]+)"/g)].map((m) => `${m[1]}: ${m[2]!.split(' ').length}`),
      legend: texts(p, 'legend'),
      xTicks: texts(p, 'tick x'),
      yTicks: texts(p, 'tick y'),
      axes: [...texts(p, 'axis-title x'), ...texts(p, 'axis-title y')],
    })),
  };
}

describe('switchyard bench chart', () => {
  it('draws latency and bandwidth against size, a line per run and progress mode, with axes and a legend', async () => {
    const { code, stdout, stderr } = await cli(['bench', 'chart', save('both.json', RESULTS), '-o', 'both.svg'], { cwd: dir });
    expect(code, stderr).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toBe(`switchyard bench chart: chart written to ${join(dir, 'both.svg')}\n`);
    const svg = readFileSync(join(dir, 'both.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+"/);
    const chart = read(svg);
    expect(chart.title).toBe('switchyard bench: Node v20.20.2, linux x64, 2 x Test CPU &lt;2 GHz&gt;; iterations x 0.3');
    const names = [
      'switchyard-tcp (sleep)',
      'raw Node TCP (sleep)',
      'ompi-tcp (sleep)',
      'switchyard-tcp (busy)',
      'raw Node TCP (busy)',
      'ompi-tcp (busy)',
    ];
    expect(chart.panels.map((p) => p.benchmark)).toEqual(['latency', 'bandwidth']);
    const [lat, bw] = chart.panels;
    expect(lat!.title).toBe('Latency, half round trip (lower is better)');
    expect(lat!.series).toEqual(names.map((n) => `${n}: 4`));
    expect(lat!.legend).toEqual(names);
    expect(lat!.xTicks).toEqual(['0', '8', '4K', '1M']);
    expect(lat!.yTicks).toEqual(['10', '20', '50', '100', '200', '500', '1000', '2000', '5000']);
    expect(lat!.axes).toEqual(['message size (bytes, log scale)', 'µs (log scale)']);
    expect(bw!.title).toBe('Bandwidth, windows of 64 sends (higher is better)');
    expect(bw!.series).toEqual(names.map((n) => `${n}: 3`));
    expect(bw!.xTicks).toEqual(['4K', '64K', '1M']);
    expect(bw!.yTicks).toEqual(['0', '1000', '2000', '3000', '4000']);
    expect(bw!.axes).toEqual(['message size (bytes, log scale)', 'MB/s (10^6 B/s)']);
    // Busy-poll runs are dashed, in their transport's colour.
    expect(svg.match(/<polyline [^>]*stroke-dasharray/g)).toHaveLength(6);
  });

  it('names runs by transport alone with one progress mode, and leaves out a benchmark that was not run', async () => {
    const latencyOnly = { ...RESULTS, runs: RESULTS.runs.filter((r) => r.mode === 'sleep').map((r) => ({ ...r, bandwidth: [] })) };
    const { code, stderr } = await cli(['bench', 'chart', save('latency.json', latencyOnly), '--output', 'latency.svg'], { cwd: dir });
    expect(code, stderr).toBe(0);
    const chart = read(readFileSync(join(dir, 'latency.svg'), 'utf8'));
    expect(chart.panels.map((p) => [p.benchmark, ...p.series])).toEqual([
      ['latency', 'switchyard-tcp: 4', 'raw Node TCP: 4', 'ompi-tcp: 4'],
    ]);
  });

  it('prints usage with --help', async () => {
    const { code, stdout } = await cli(['bench', 'chart', '--help'], { cwd: dir });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: switchyard bench chart RESULTS\.json -o FILE\.svg\n/);
  });

  it.each([
    [[], "missing RESULTS.json: a file saved from 'switchyard bench --json'"],
    [['both.json'], 'missing -o FILE.svg: where to write the chart'],
    [['both.json', 'more.json', '-o', 'x.svg'], "unexpected argument 'more.json'"],
    [['both.json', '-o', 'x.png'], "-o takes a file name ending in .svg, got 'x.png'"],
    [['both.json', '-o', 'no/x.svg'], `-o: folder ${join(dir, 'no')} does not exist`],
    [['nothing.json', '-o', 'x.svg'], `cannot read ${join(dir, 'nothing.json')}: no such file`],
    [[save('text.json', 'latency 8 40us'), '-o', 'x.svg'], `${join(dir, 'text.json')} is not JSON`],
    [[save('switch.json', { runs: undefined, cycles: [] }), '-o', 'x.svg'], `${join(dir, 'switch.json')} has no "runs" list`],
    [
      [save('mode.json', { runs: [{ transport: 'raw-node-tcp', mode: 'spin', latency: [], bandwidth: [] }] }), '-o', 'x.svg'],
      `${join(dir, 'mode.json')}: runs[0]: "mode" must be sleep or busy, got "spin"`,
    ],
    [
      [save('point.json', { runs: [{ transport: 'raw-node-tcp', mode: 'busy', latency: [{ size: 8 }], bandwidth: [] }] }), '-o', 'x.svg'],
      `${join(dir, 'point.json')}: runs[0].latency[0] needs a "size" (bytes) and a "usec"`,
    ],
    [
      [save('empty.json', { runs: [{ transport: 'raw-node-tcp', mode: 'busy', latency: [], bandwidth: [] }] }), '-o', 'x.svg'],
      `${join(dir, 'empty.json')} has no latency or bandwidth figure to draw`,
    ],
    [['both.json', '-o'], "option '-o' needs a value"],
  ])('refuses %j with a usage error, writing nothing', async (argv, message) => {
    const { code, stdout, stderr } = await cli(['bench', 'chart', ...argv], { cwd: dir });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`switchyard bench chart: ${message}`);
    expect(stderr).toContain("Run 'switchyard bench chart --help' for usage.");
    expect(existsSync(join(dir, 'x.svg'))).toBe(false);
  });
});
