import { cpus, arch, platform } from 'node:os';
import { version } from '@switchyard/mpi';
import { TARGETS, type Comparison } from './compare.js';
import type { BenchOptions } from './options.js';
import { formatValue } from './format-value.js';
import { BATCHES, WINDOW } from './plan.js';
import { formatSize } from './sizes.js';
import { ompiMpirunArgs } from './run-ompi.js';
import { renderTargets } from './targets-text.js';
import { evaluateTargets } from './targets.js';
import { displayName, OMPI_TCP_TRANSPORT, RAW_TRANSPORT, RAW_UDS_TRANSPORT, rawTransportName } from './transport-names.js';
import type { Benchmark, OmpiBtl, Phase, ProgressMode, TransportRun } from './types.js';

export interface Machine {
  readonly node: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly platform: string;
  readonly arch: string;
}

export function machine(): Machine {
  const list = cpus();
  return { node: process.version, cpus: list.length, cpuModel: list[0]?.model.trim() ?? 'unknown', platform: platform(), arch: arch() };
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/** The `--json` document. */
export function renderJson(
  options: BenchOptions,
  phases: readonly Phase[],
  runs: readonly TransportRun[],
  comparisons: readonly Comparison[],
): string {
  return `${JSON.stringify(resultsDocument(options, phases, runs, comparisons), null, 2)}\n`;
}

/** The results as `--json` prints them, which is also what a chart is drawn from. */
export function resultsDocument(
  options: BenchOptions,
  phases: readonly Phase[],
  runs: readonly TransportRun[],
  comparisons: readonly Comparison[],
) {
  return {
    switchyard: version,
    machine: machine(),
    settings: {
      benchmarks: options.benchmarks,
      btls: options.btls,
      raw: options.raw.map(rawTransportName),
      modes: options.modes,
      iterationsScale: options.iterationsScale,
      batches: BATCHES,
      window: WINDOW,
      mca: options.mca,
      ompi: options.ompi.length ? Object.fromEntries(options.ompi.map((btl) => [btl, ompiCommand(btl, options.bindTo)])) : null,
      bindTo: options.bindTo ?? null,
      phases: phases.map(({ benchmark, size, iterations, warmup }) => ({ benchmark, size, iterations, warmup })),
    },
    runs: runs.map((r) => ({
      transport: r.transport,
      mode: r.mode,
      latency: r.latency.map((p) => ({ size: p.size, usec: round(p.usec, 3) })),
      bandwidth: r.bandwidth.map((p) => ({ size: p.size, mbps: round(p.mbps, 1) })),
      cores: r.cores ?? null,
      failed: r.failed ?? null,
    })),
    comparisons: comparisons.map((c) => ({ ...c, ratio: round(c.ratio, 3) })),
    targets: evaluateTargets(runs).map((t) => {
      const digits = t.benchmark === 'latency' ? 3 : 1;
      return {
        id: t.id,
        description: t.description,
        mode: t.mode,
        benchmark: t.benchmark,
        transport: t.transport,
        baseline: t.baseline,
        pass: t.pass,
        sizes: t.points.map((p) => p.size),
        misses: t.misses.map((p) => ({ size: p.size, value: round(p.value, digits), bound: round(p.bound, digits) })),
      };
    }),
  };
}

const MODE_TEXT: Record<ProgressMode, string> = {
  sleep: 'sleep (the event loop sleeps in epoll while waiting)',
  busy: 'busy (the event loop keeps polling: --mca pml_busy_poll 1; raw: a setImmediate chain)',
};

const verdict = (c: Comparison | undefined) => (c?.pass === true ? 'PASS' : c?.pass === false ? 'MISS' : '');

/** The readable tables: per mode, latency and bandwidth, then the targets' summary. */
export function renderText(options: BenchOptions, runs: readonly TransportRun[], comparisons: readonly Comparison[]): string {
  const m = machine();
  let out = `switchyard bench: Node ${m.node}, ${m.platform} ${m.arch}, ${m.cpus} x ${m.cpuModel}\n`;
  const mca = options.mca.length ? `; ${options.mca.map(([k, v]) => `--mca ${k} ${v}`).join(' ')}` : '';
  out += `iterations: default counts x ${options.iterationsScale}, a primer of every size, ` +
    'then warm-up 10% x 10 or more per run (0.2 s of its own at least, 1 s for the first size, until steady), ' +
    `median of ${BATCHES} batches; ` +
    `${options.btls.map((b) => `--mca btl ${b},self`).join(', ')}${mca}\n`;
  out += `${placement(options.bindTo)}\n`;
  if (options.ompi.length) {
    out += 'Open MPI (Open MPI always busy-polls, in both modes), in this same invocation, taking turns batch by batch with the others:\n';
    out += options.ompi.map((btl) => `  ompi-${btl}: ${ompiCommand(btl, options.bindTo)}\n`).join('');
  }
  for (const mode of options.modes) {
    out += `\n== progress: ${MODE_TEXT[mode]}\n`;
    for (const benchmark of options.benchmarks) out += `\n${table(benchmark, mode, options, runs, comparisons)}`;
    for (const run of runs.filter((r) => r.mode === mode && r.failed !== undefined))
      out += `\n${run.transport} failed during this mode and was left out from then on (its sizes not measured show -): ${run.failed}\n`;
  }
  const summary = summarize(options, comparisons) + renderTargets(evaluateTargets(runs).filter((t) => !t.inTables));
  if (summary) out += `\nTargets (a measurement: a MISS does not fail the command)\n${summary}`;
  return out;
}

/** How a baseline run over an Open MPI BTL is started (the program is the bench's own mpi_pingpong.c). */
function ompiCommand(btl: OmpiBtl, bindTo: BenchOptions['bindTo']): string {
  return `mpirun ${ompiMpirunArgs(btl, bindTo).join(' ')} mpi_pingpong`;
}

/** Where the processes of every run were placed, as the header says it. */
function placement(bindTo: BenchOptions['bindTo']): string {
  if (bindTo === 'none') return 'placement: --bind-to none, every process of every run left to the scheduler';
  const alike = "raw Node's and Open MPI's as Switchyard's";
  if (bindTo === 'core') return `placement: --bind-to core, each of a run's two processes on a core of its own, ${alike}`;
  return `placement: mpirun's default for every run, ${alike}: each process on a core of its own where there are two (the JSON ` +
    'gives the cores); --bind-to none leaves them to the scheduler';
}

/** How a ratio column names its baseline: `tcp/raw`, `sm/uds`, `tcp/ompi`. */
const RATIO_NAMES: Record<string, string> = { [RAW_TRANSPORT]: 'raw', [RAW_UDS_TRANSPORT]: 'uds', [OMPI_TCP_TRANSPORT]: 'ompi' };

function table(
  benchmark: Benchmark,
  mode: ProgressMode,
  options: BenchOptions,
  runs: readonly TransportRun[],
  comparisons: readonly Comparison[],
): string {
  const { btls } = options;
  const title =
    benchmark === 'latency'
      ? 'Latency, half round trip, µs (lower is better)'
      : `Bandwidth, window ${WINDOW}, MB/s = 10^6 B/s (higher is better)`;
  const find = (transport: string) => runs.find((r) => r.transport === transport && r.mode === mode);
  const measured = [
    ...btls.map((b) => `switchyard-${b}`),
    ...options.raw.map(rawTransportName),
    ...options.ompi.map((b) => `ompi-${b}`),
  ].map((name) => ({ name, run: find(name) }));
  const baselines = [RAW_TRANSPORT, RAW_UDS_TRANSPORT, OMPI_TCP_TRANSPORT].filter((name) => find(name));
  const points = (r: TransportRun | undefined) =>
    (benchmark === 'latency'
      ? r?.latency.map((p) => ({ size: p.size, v: p.usec }))
      : r?.bandwidth.map((p) => ({ size: p.size, v: p.mbps }))) ?? [];
  const sizes = [...new Set(measured.flatMap((m) => points(m.run).map((p) => p.size)))].sort((a, b) => a - b);
  if (!sizes.length) return `${title}\n  (no sizes: bandwidth skips size 0)\n`;
  const hasTarget = btls.includes('tcp') && baselines.includes(RAW_TRANSPORT);
  const ratioName = (btl: string, baseline: string) => `${btl}/${RATIO_NAMES[baseline]}`;
  const header = [
    'size',
    ...measured.map((m) => displayName(m.name)),
    ...baselines.flatMap((base) => btls.map((b) => ratioName(b, base))),
    ...(hasTarget ? [btls.length > 1 ? 'tcp target' : 'target'] : []),
  ];
  const rows = sizes.map((size) => {
    const cmp = (btl: string, baseline: string) =>
      comparisons.find(
        (c) =>
          c.mode === mode && c.benchmark === benchmark && c.transport === `switchyard-${btl}` && c.baseline === baseline && c.size === size,
      );
    return [
      formatSize(size),
      ...measured.map((m) => formatValue(benchmark, points(m.run).find((p) => p.size === size)?.v)),
      ...baselines.flatMap((base) =>
        btls.map((btl) => {
          const c = cmp(btl, base);
          return c ? `${c.ratio.toFixed(2)}x` : '-';
        }),
      ),
      ...(hasTarget ? [verdict(cmp('tcp', RAW_TRANSPORT))] : []),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `${cells
      .map((c, i) => (i === cells.length - 1 && hasTarget ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd()}\n`;
  return `${title}\n${line(header)}${rows.map(line).join('')}`;
}

function summarize(options: BenchOptions, comparisons: readonly Comparison[]): string {
  let out = '';
  for (const mode of options.modes) {
    for (const benchmark of options.benchmarks) {
      const held = comparisons.filter((c) => c.mode === mode && c.benchmark === benchmark && c.target !== null);
      if (!held.length) continue;
      const misses = held.filter((c) => c.pass === false);
      const detail = misses.length
        ? `MISS at ${misses.length} of ${held.length} size${held.length === 1 ? '' : 's'}: ` +
          `${misses.map((c) => `${formatSize(c.size)} ${c.ratio.toFixed(2)}x`).join(', ')}`
        : `PASS at ${held.length === 1 ? 'the only size' : `all ${held.length} sizes`} ` +
          `(${held.map((c) => `${formatSize(c.size)} ${c.ratio.toFixed(2)}x`).join(', ')})`;
      out += `  ${mode}: ${TARGETS[benchmark].text}: ${detail}\n`;
    }
  }
  return out;
}
