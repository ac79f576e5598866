/**
 * `switchyard bench checkpoint`: what a real checkpoint costs a running job, at several sizes:
 * prepare, dump, restore and continue, the images per rank, and the pause each rank saw, for a
 * save that leaves the job running and for one that saves it and brings it back.
 */
import { type Command, HELP_OPTION, JSON_OPTION, MCA_OPTION, mcaPairs, parseArgs, UsageError } from '@switchyard/cli-kit';
import { probeCriu } from '@switchyard/control';
import { benchFrame } from '../command-frame.js';
import { BenchRunError } from '../errors.js';
import { renderCheckpointText } from './report.js';
import { measureCheckpoint, type CheckpointRun } from './run.js';
import { subBenchmark } from '../sub-usage.js';

const USAGE = `Usage: switchyard bench checkpoint [--np LIST] [--criu PATH] [--mca crs_criu_path PATH] [--json]

Measures a real checkpoint (CRIU) of a running job, for each job size: N ranks of 'switchyard run'
on this machine (--mca btl tcp,self) stream numbered messages all-to-all, every arrival checked
for order. Each job is saved twice with the real commands:
  1. 'switchyard ctl checkpoint save DIR --leave-running': prepare, dump, continue; the job runs on
  2. 'switchyard ctl checkpoint save DIR', then 'switchyard restore DIR': prepare, dump (the job's
     processes are gone), restore, continue
then told to stop; its ranks report every message once and in order.

Reported per size: the time of each step, the image size per rank (and the launcher's), the pause
each rank saw (its longest iteration overlapping the step), against the job's own iteration time.

  --np LIST      job sizes, comma-separated (default 2,4,8; each at least 2)
  --criu PATH    the CRIU binary (4.2 or newer; default: crs_criu_path, then criu on PATH or in sbin)
  --mca crs_criu_path PATH
                 the same, as the parameter (the only one this benchmark reads)
  --json         machine-readable results on stdout (progress stays on stderr)
  -h, --help     show this help

Needs root and CRIU 4.2 or newer. Exit code: 0 when every job was saved, restored and ended with
every message once, in order; 1 otherwise (or refused: the reason is printed); 2 on a usage error.
`;

const DEFAULT_NP = [2, 4, 8];

export const benchCheckpoint: Command = subBenchmark('checkpoint', async (argv, io) => {
  const args = parseArgs(argv, [HELP_OPTION, JSON_OPTION, MCA_OPTION, { name: 'np', arity: 1 }, { name: 'criu', arity: 1 }]);
  if (args.options.get('help')) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (args.positionals.length) throw new UsageError(`it takes no arguments, got '${args.positionals.join(' ')}'`);
  const sizes = parseSizes(args.options.get('np') as string | undefined);
  // The one parameter the measurement reads (the CRIU binary), as `ctl checkpoint save` takes it too.
  const pairs = mcaPairs(args);
  const other = pairs.find(([k]) => k !== 'crs_criu_path');
  if (other) throw new UsageError(`--mca: the checkpoint benchmark reads crs_criu_path only, got '${other[0]}'`);
  const criu = (args.options.get('criu') as string | undefined) ?? pairs.at(-1)?.[1];
  const json = args.options.get('json') === true;
  return benchFrame('switchyard bench checkpoint', io, json, async ({ display }) => {
    if (process.getuid?.() !== 0) throw new BenchRunError('refused: CRIU saves and restores processes as root; run it as root');
    const probe = probeCriu(criu, io.env);
    if (probe.problem) throw new BenchRunError(`refused: ${probe.problem.reason}`);
    const runs: CheckpointRun[] = [];
    for (const np of sizes) {
      runs.push(await measureCheckpoint(np, { env: io.env, criu, progress: (l) => display.phase(`checkpoint: ${l}`) }));
    }
    display.clear();
    const result = { bench: 'checkpoint', criu: { path: probe.path, version: probe.version }, runs };
    io.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : renderCheckpointText(runs));
    return runs.every((r) => r.ok) ? 0 : 1;
  });
});

function parseSizes(text: string | undefined): number[] {
  if (text === undefined) return DEFAULT_NP;
  const sizes = text.split(',').map((s) => s.trim());
  const bad = sizes.find((s) => !/^\d+$/.test(s) || Number(s) < 2 || Number(s) > 64);
  if (bad !== undefined) throw new UsageError(`--np takes job sizes from 2 to 64, comma-separated, got '${bad}'`);
  return sizes.map(Number);
}
