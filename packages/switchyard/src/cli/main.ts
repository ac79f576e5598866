import { describeFailure, endOnOutputError, processIO, runCommand, USAGE_EXIT_CODE, verboseRequested } from '@switchyard/cli-kit';
import type { Command, CommandIO } from '@switchyard/cli-kit';
import { loadBench } from './load-bench.js';

/**
 * Each verb lives in its own module, loaded only when used so `switchyard info` stays fast.
 * `jsonUsage`: a usage error with `--json` is answered on stdout too; not for `ctl`, which
 * answers it itself (with its own code), nor `run`, whose later arguments are the script's.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command>; jsonUsage?: boolean }> = {
  info: {
    summary: 'list frameworks, components and parameters (ompi_info)',
    load: async () => (await import('./commands/info.js')).info,
    jsonUsage: true,
  },
  run: { summary: 'launch an N-rank job on this machine (mpirun)', load: async () => (await import('./commands/run.js')).run },
  ctl: {
    summary: 'talk to a running job: status, switch/load/unload BTLs, apply, checkpoint',
    load: async () => (await import('@switchyard/control/ctl')).ctl,
  },
  restore: {
    summary: "bring back a job saved by 'ctl checkpoint save DIR' (CRIU) and resume it",
    load: async () => (await import('@switchyard/control/restore')).restore,
    jsonUsage: true,
  },
  new: {
    summary: 'create a third-party BTL package wired to the conformance kit (new btl NAME [DIR])',
    load: async () => (await import('./commands/new.js')).newCommand,
    jsonUsage: true,
  },
  verbs: {
    summary: 'soft verbs devices of running processes: list; reset, fail or restore one (fault injection)',
    load: async () => (await import('./commands/verbs.js')).verbs,
    jsonUsage: true,
  },
  bench: { summary: 'measure latency and bandwidth (against raw Node TCP) and switch time', load: loadBench, jsonUsage: true },
};

/**
 * Verbs that only report: when the reader of their output goes away (`ctl status --watch | head`)
 * they end quietly with 141, as SIGPIPE ends a C tool. Not `run`, `bench` or `restore`, which
 * have processes to take down first (run does, and says so).
 */
const ENDED_BY_A_CLOSED_PIPE = new Set(['info', 'ctl', 'new', 'verbs']);
const HELP_FLAGS = new Set(['--help', '-h', '-help']);

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const verbs = Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
    .join('\n');
  return (
    `Usage: switchyard [--verbose] <command> [options]\n       switchyard --version | -V\n\nCommands:\n${verbs}\n\n` +
    `Run 'switchyard <command> --help' for a command's options. --verbose: show the stack trace of an unexpected failure.\n`
  );
}

/** Entry point of the `switchyard` bin; resolves to the exit code. */
export async function main(argv: string[], io: CommandIO = processIO()): Promise<number> {
  const verbose = argv[0] === '--verbose';
  const [verb, ...rest] = verbose ? argv.slice(1) : argv;
  const command = verb === undefined ? undefined : COMMANDS[verb];
  // Only reporting, with nothing to take down first: the general help, the version, an unknown
  // command, the verbs that only report, and any verb's own help.
  if (!command || ENDED_BY_A_CLOSED_PIPE.has(verb!) || HELP_FLAGS.has(rest[0] ?? '')) {
    endOnOutputError(io.stdout, `switchyard${command ? ` ${verb}` : ''}`);
    // `2>&1 | head`: stderr goes to the same reader.
    endOnOutputError(io.stderr, `switchyard${command ? ` ${verb}` : ''}`);
  }
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    (verb === undefined ? io.stderr : io.stdout).write(usage());
    return verb === undefined ? USAGE_EXIT_CODE : 0;
  }
  if (verb === '--version' || verb === '-V') {
    const { version } = await import('../version.js');
    io.stdout.write(`switchyard ${version}\n`);
    return 0;
  }
  if (!command) {
    // Loaded here only: the hint costs nothing on the way to a known command.
    const near = (await import('@switchyard/mca')).closest(verb, Object.keys(COMMANDS));
    io.stderr.write(`switchyard: unknown command '${verb}'${near ? `; did you mean '${near}'?` : ''}\n\n${usage()}`);
    return USAGE_EXIT_CODE;
  }
  try {
    return await runCommand(verb, await command.load(), rest, io, { jsonUsage: command.jsonUsage === true });
  } catch (err) {
    // What no verb turned into its own message: still one line, the stack only when asked for.
    io.stderr.write(`switchyard ${verb}: ${describeFailure(err, verbose || verboseRequested())}\n`);
    return 1;
  } finally {
    // A bench's jobs too leave soft verbs sockets when their ranks are killed (an interrupted run).
    if (verb === 'bench') await (await import('./sweep-soft-verbs.js')).sweepSoftVerbs();
  }
}
