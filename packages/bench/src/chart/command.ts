import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, HELP_OPTION, parseArgs, UsageError } from '@switchyard/cli-kit';
import { chartPath } from './output.js';
import { renderChart } from './render.js';
import { parseResults } from './results.js';
import { subBenchmark } from '../sub-usage.js';

const USAGE = `Usage: switchyard bench chart RESULTS.json -o FILE.svg

Draws a saved 'switchyard bench latency|bandwidth|all --json' output as an SVG: latency and
bandwidth against message size (log scale), one line per run (each BTL, raw Node TCP or UDS, ompi-*;
per progress mode when the run measured both). 'switchyard bench ... --chart FILE.svg' draws
the same chart at the end of a run.

  -o, --output FILE.svg  where to write the chart
  -h, --help             show this help

Exit code: 0 written; 1 the chart could not be written; 2 on a usage error (missing RESULTS or -o,
a RESULTS file that is not a bench's --json output).
`;

export const benchChart: Command = subBenchmark('chart', async (argv, io) => {
  const input = parseChartArgs(argv, io.cwd);
  if (!input) {
    io.stdout.write(USAGE);
    return 0;
  }
  const svg = renderChart(parseResults(read(input.results), input.results));
  try {
    writeFileSync(input.output, svg);
  } catch (err) {
    io.stderr.write(`switchyard bench chart: cannot write ${input.output}: ${(err as Error).message}\n`);
    return 1;
  }
  io.stderr.write(`switchyard bench chart: chart written to ${input.output}\n`);
  return 0;
});

/** The results file and the chart's path; undefined for --help. */
function parseChartArgs(argv: readonly string[], cwd: string): { results: string; output: string } | undefined {
  const args = parseArgs(argv, [HELP_OPTION, { name: 'output', short: 'o', arity: 1 }]);
  if (args.options.get('help')) return undefined;
  const [results, extra] = args.positionals;
  if (results === undefined) throw new UsageError("missing RESULTS.json: a file saved from 'switchyard bench --json'");
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const output = args.options.get('output') as string | undefined;
  if (output === undefined) throw new UsageError('missing -o FILE.svg: where to write the chart');
  return { results: resolve(cwd, results), output: chartPath(output, cwd, '-o') };
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${file}: ${(code && READ_ERRORS[code]) ?? code ?? (err as Error).message}`);
  }
}

/** What a failed read means, in words. */
const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a folder, not a file',
};
