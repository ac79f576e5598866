import { UsageError } from '@switchyard/cli-kit';
import type { BandwidthPoint, LatencyPoint, ProgressMode } from '../types.js';

/** What a chart needs of a bench's results: the `--json` document's runs, and where it was measured. */
export interface ChartResults {
  readonly machine?: {
    readonly node?: string;
    readonly cpus?: number;
    readonly cpuModel?: string;
    readonly platform?: string;
    readonly arch?: string;
  };
  readonly settings?: { readonly iterationsScale?: number };
  readonly runs: ReadonlyArray<{
    readonly transport: string;
    readonly mode: ProgressMode;
    readonly latency: readonly LatencyPoint[];
    readonly bandwidth: readonly BandwidthPoint[];
  }>;
}

/**
 * Reads a saved `switchyard bench --json` output, naming the first thing that does not fit
 * (a file of another bench, `bench switch` say, has no latency or bandwidth runs to draw).
 */
export function parseResults(text: string, file: string): ChartResults {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not JSON (${(err as Error).message}); give the output of 'switchyard bench --json'`);
  }
  const runs = (doc as { runs?: unknown } | null)?.runs;
  if (!Array.isArray(runs))
    throw new UsageError(`${file} has no "runs" list: it is not the output of 'switchyard bench latency|bandwidth|all --json'`);
  runs.forEach((run: unknown, i) => checkRun(run, `${file}: runs[${i}]`));
  if (!runs.some((r: { latency: unknown[]; bandwidth: unknown[] }) => r.latency.length || r.bandwidth.length)) {
    throw new UsageError(`${file} has no latency or bandwidth figure to draw`);
  }
  return doc as ChartResults;
}

function checkRun(run: unknown, where: string): void {
  const r = run as Record<string, unknown> | null;
  if (typeof r?.transport !== 'string') throw new UsageError(`${where} has no "transport" name`);
  if (r.mode !== 'sleep' && r.mode !== 'busy')
    throw new UsageError(`${where}: "mode" must be sleep or busy, got ${JSON.stringify(r.mode)}`);
  checkPoints(r.latency, 'usec', `${where}.latency`);
  checkPoints(r.bandwidth, 'mbps', `${where}.bandwidth`);
}

function checkPoints(points: unknown, value: string, where: string): void {
  if (!Array.isArray(points)) throw new UsageError(`${where} is not a list`);
  points.forEach((p: Record<string, unknown> | null, i) => {
    const ok =
      typeof p?.size === 'number' && p.size >= 0 && typeof p[value] === 'number' && Number.isFinite(p[value]) && (p[value] as number) >= 0;
    if (!ok) throw new UsageError(`${where}[${i}] needs a "size" (bytes) and a "${value}" (a number of 0 or more)`);
  });
}
