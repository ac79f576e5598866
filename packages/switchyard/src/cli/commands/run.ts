import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { launchJob, LaunchError, TIMEOUT_EXIT_CODE, type RunningJob } from '@switchyard/runtime';
import {
  type Command,
  type CommandIO,
  HELP_OPTION,
  MCA_OPTION,
  mcaPairs,
  type OptionSpec,
  parseArgs,
  USAGE_EXIT_CODE,
  UsageError,
} from '@switchyard/cli-kit';
import { inForeground } from '../foreground.js';
import { installCoordinator, MetricsListenError, renderStatus, serveMetrics, type Coordinator } from '@switchyard/control';
import { METRICS_PORT_PARAM } from '../../app/launcher-params.js';
import { mcaProblems } from './run-mca-check.js';
import { sweepSoftVerbs } from '../sweep-soft-verbs.js';
import { bindToOf, exportedEnv, metricsOf, outputDirOf, ranksOf, timeoutOf } from './run-options.js';

/** How long each rank gets to answer the state dump of a timed-out job. */
const TIMEOUT_DUMP_RANK_MS = 3000;

const USAGE = `Usage: switchyard run -n N [--mca KEY VALUE]... [--tag-output] [OPTIONS] SCRIPT [ARGS...]

Launches N ranks of SCRIPT on this machine (the embedded launcher, mpirun's role). One failing
rank aborts the whole job. TypeScript scripts (.ts, .mts, .cts) run through tsx. Everything
after SCRIPT is passed to it. Options take mpirun's spellings too: -np 4, -mca btl tcp,self.

  -n, -np, --np N                number of ranks (a positive integer)
  --mca, -mca KEY VALUE          set an MCA parameter for every rank (repeatable; wins over the environment)
  -x VAR | -x VAR=VALUE          export VAR (as set here) or VAR=VALUE to every rank (repeatable);
                                 the ranks inherit this environment anyway, as mpirun's local ranks do
  --tag-output                   prefix each line of output with the rank that printed it: [RANK]
  --merge-stderr-to-stdout       the ranks' stderr goes to stdout (and to the stdout files)
  --output-filename DIR          also write each rank's output to DIR/1/rank.N/stdout and
                                 DIR/1/rank.N/stderr (Open MPI 4's layout; files are untagged and
                                 truncated; the terminal still gets its copy)
  --timeout SECONDS              abort the job after SECONDS (also MPIEXEC_TIMEOUT); exit code ${TIMEOUT_EXIT_CODE};
                                 every rank's state ('switchyard ctl status') is printed on stderr first
  --metrics-port [HOST:]PORT     serve the job's counters in Prometheus' text format at
                                 http://HOST:PORT/metrics (HOST default 127.0.0.1; 0: a free port,
                                 printed); also --mca ${METRICS_PORT_PARAM} PORT. Off by default
  --bind-to core|none            core: bind rank i and its threads to the i-th core this launcher
                                 may use (at most one rank per core); none: leave them to the
                                 scheduler. Default, as mpirun's: core for 1 or 2 ranks when
                                 there are as many cores, none otherwise. Two ranks left to the
                                 scheduler were often put on one core after an idle spell
  --report-bindings              say on stderr where each rank was bound
  --oversubscribe                accepted for mpirun command lines; no effect (any N runs: above
                                 2 ranks, or more ranks than cores, none are bound)
  -h, --help                     show this help

Standard input goes to rank 0 (the other ranks read /dev/null), as with mpirun; a launcher in the
background of a terminal does not read it (rank 0 then reads /dev/null too).

Exit codes:
  0        every rank exited 0
  N        the first failing rank's exit code, or 128 + signal number when a signal killed it
  1        the job could not start, or a rank exited without calling finalize()
  ${USAGE_EXIT_CODE}        usage error (unknown option, bad value, missing SCRIPT): nothing was started
  ${TIMEOUT_EXIT_CODE}      --timeout (or MPIEXEC_TIMEOUT) ran out (ETIMEDOUT, as mpirun)
  130, 143 the launcher got SIGINT or SIGTERM (128 + signal)
  141      the reader of the launcher's output went away (run ... | head), as SIGPIPE would end it
`;

const RUN_OPTIONS: readonly OptionSpec[] = [
  { name: 'np', short: 'n', arity: 1 },
  MCA_OPTION,
  { name: 'x', short: 'x', arity: 1, repeat: true },
  { name: 'tag-output', arity: 0 },
  { name: 'merge-stderr-to-stdout', arity: 0 },
  { name: 'output-filename', arity: 1 },
  { name: 'timeout', arity: 1 },
  { name: 'metrics-port', arity: 1 },
  { name: 'bind-to', arity: 1 },
  { name: 'report-bindings', arity: 0 },
  { name: 'oversubscribe', arity: 0 },
  HELP_OPTION,
];

const SEVERAL_HOSTS =
  'switchyard run starts every rank on this machine; to spread a job over several hosts, start it with ' +
  "mpirun or srun --mpi=pmix (the documentation's 'Running on a cluster')";

/** mpirun's options for placing ranks on other hosts, which the embedded launcher does not do. */
const MPIRUN_HOST_HINTS: Readonly<Record<string, string>> = Object.fromEntries(
  ['host', 'H', 'hostfile', 'machinefile', 'default-hostfile'].map((name) => [name, SEVERAL_HOSTS]),
);

export const run: Command = async (argv, io) => {
  // Stop at the script: its own options (even --mca) belong to it, not to us.
  const args = parseArgs(argv, RUN_OPTIONS, true, MPIRUN_HOST_HINTS);
  if (args.options.get('help')) {
    io.stdout.write(USAGE);
    return 0;
  }
  const np = ranksOf(args);
  const { env, unset } = exportedEnv(args, io.env);
  const timeLimit = timeoutOf(args, io.env);
  const outputDir = outputDirOf(args, io.cwd);
  const metrics = metricsOf(args, mcaPairs(args), io.env);
  const bindTo = bindToOf(args);
  const [script, ...scriptArgs] = args.positionals;
  if (script === undefined) throw new UsageError('missing SCRIPT: the program each rank runs');
  const scriptPath = resolve(io.cwd, script);
  if (!existsSync(scriptPath)) {
    // mpirun's habit (`mpirun -np 4 node app.mjs`): the program there is node, here the script.
    const node = /^node(js)?(\.exe)?$/.test(basename(script)) && scriptArgs.length > 0;
    const instead = `switchyard run -n ${np} ${scriptArgs.join(' ')}`;
    const hint = node ? `; switchyard run starts Node itself: name the script (${instead}), Node's own options go in NODE_OPTIONS` : '';
    throw new UsageError(`script not found: ${scriptPath}${hint}`);
  }
  if (!statSync(scriptPath).isFile()) throw new UsageError(`script is not a file: ${scriptPath}`);
  const problems = await mcaProblems(mcaPairs(args), { cwd: io.cwd, scriptDir: dirname(scriptPath), env: io.env });
  if (problems.usage.length) throw new UsageError(problems.usage.join('\n  '));
  if (problems.config.length) {
    const list = problems.config.length === 1 ? problems.config[0] : problems.config.map((p) => `\n  - ${p}`).join('');
    io.stderr.write(`switchyard run: invalid MCA configuration, no rank started: ${list}\n`);
    return 1;
  }
  for (const warning of problems.warnings ?? []) io.stderr.write(`switchyard run: warning: ${warning}\n`);

  for (const name of unset) io.stderr.write(`switchyard run: warning: -x ${name}: ${name} is not set here, so the ranks do not get it\n`);
  const stdin = forwardedStdin(io);
  let coordinator: Coordinator | undefined;
  let server: Server | undefined;
  const onReady = (job: RunningJob) => {
    const c = (coordinator = installCoordinator(job));
    if (!metrics) return;
    serveMetrics(metrics.host, metrics.port, () => c.status()).then(
      (s) => {
        server = s;
        const at = s.address() as AddressInfo;
        const host = at.family === 'IPv6' ? `[${at.address}]` : at.address;
        io.stderr.write(`switchyard run: metrics at http://${host}:${at.port}/metrics\n`);
      },
      (err: Error) => {
        if (!(err instanceof MetricsListenError)) throw err;
        io.stderr.write(`switchyard run: warning: ${err.message}; the job runs without it\n`);
      },
    );
  };
  try {
    const result = await launchJob({
      trust: problems.trust,
      np,
      script: scriptPath,
      args: scriptArgs,
      cwd: io.cwd,
      env,
      mca: mcaPairs(args),
      tagOutput: args.options.get('tag-output') === true,
      mergeStderrToStdout: args.options.get('merge-stderr-to-stdout') === true,
      ...(bindTo === undefined ? {} : { bindTo }),
      reportBindings: args.options.get('report-bindings') === true,
      ...(outputDir === undefined ? {} : { outputDir }),
      ...(timeLimit === undefined ? {} : { timeoutSeconds: timeLimit.seconds, timeoutFrom: timeLimit.from }),
      ...(stdin === undefined ? {} : { stdin }),
      stdout: io.stdout,
      stderr: io.stderr,
      onReady,
      timeoutDump: async () => (coordinator ? renderStatus(await coordinator.status({ timeoutMs: TIMEOUT_DUMP_RANK_MS })) : ''),
    });
    return result.exitCode;
  } catch (err) {
    if (!(err instanceof LaunchError)) throw err;
    io.stderr.write(`switchyard run: ${err.message}\n`);
    return 1;
  } finally {
    server?.close();
    server?.closeAllConnections();
    await sweepSoftVerbs();
  }
};

/** The launcher's stdin for rank 0, unless reading it would stop a background launcher. */
function forwardedStdin(io: CommandIO): NodeJS.ReadableStream | undefined {
  const stdin = io.stdin;
  if (stdin === undefined) return undefined;
  return stdin.isTTY && !inForeground() ? undefined : stdin;
}
