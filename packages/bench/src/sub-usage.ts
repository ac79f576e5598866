import { type Command, runCommand } from '@switchyard/cli-kit';

/**
 * A sub-benchmark whose usage errors name it and point to its own --help (`switchyard bench NAME: ...`),
 * and are answered on stdout too when it was asked for --json, like every bench command's.
 */
export function subBenchmark(name: string, run: Command): Command {
  return (argv, io) => runCommand(`bench ${name}`, run, argv, io, { jsonUsage: true });
}
