import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { launchJob } from '@switchyard/runtime';
import { HELP_OPTION, MCA_OPTION, mcaPairs, parseArgs, UsageError, type OptionSpec } from '../args.js';
import type { Command } from '../io.js';
import { installCoordinator } from '../../control/coordinator.js';

const USAGE = `Usage: switchyard run -n N [--mca KEY VALUE]... [--tag-output] SCRIPT [ARGS...]

Launches N ranks of SCRIPT on this machine (the embedded launcher, mpirun's role) and exits with
the job's status: 0 when every rank exits 0; otherwise the failing rank's exit code, or
128 + signal number. One failing rank aborts the whole job. TypeScript scripts (.ts, .mts, .cts)
run through tsx. Everything after SCRIPT is passed to it.

  -n, --np N       number of ranks (a positive integer)
  --mca KEY VALUE  set an MCA parameter for every rank (repeatable; wins over the environment)
  --tag-output     prefix each line of output with the rank that printed it: [RANK]
  -h, --help       show this help
`;

const NP_OPTION: OptionSpec = { name: 'np', short: 'n', arity: 1 };
const TAG_OUTPUT_OPTION: OptionSpec = { name: 'tag-output', arity: 0 };

export const run: Command = async (argv, io) => {
  // Stop at the script: its own options (even --mca) belong to it, not to us.
  const args = parseArgs(argv, [NP_OPTION, MCA_OPTION, TAG_OUTPUT_OPTION, HELP_OPTION], true);
  if (args.options.get('help')) {
    io.stdout.write(USAGE);
    return 0;
  }
  const npText = args.options.get('np') as string | undefined;
  if (npText === undefined) throw new UsageError('missing -n N: how many ranks to start');
  const np = /^\d+$/.test(npText.trim()) ? Number(npText) : NaN;
  if (!Number.isSafeInteger(np) || np < 1) throw new UsageError(`-n takes a positive integer, got '${npText}'`);
  const [script, ...scriptArgs] = args.positionals;
  if (script === undefined) throw new UsageError('missing SCRIPT: the program each rank runs');
  const scriptPath = resolve(io.cwd, script);
  if (!existsSync(scriptPath)) throw new UsageError(`script not found: ${scriptPath}`);
  if (!statSync(scriptPath).isFile()) throw new UsageError(`script is not a file: ${scriptPath}`);

  const result = await launchJob({
    np,
    script: scriptPath,
    args: scriptArgs,
    cwd: io.cwd,
    env: io.env,
    mca: mcaPairs(args),
    tagOutput: args.options.get('tag-output') === true,
    stdout: io.stdout,
    stderr: io.stderr,
    onReady: (job) => installCoordinator(job),
  });
  return result.exitCode;
};
