import { type Command, USAGE_EXIT_CODE, UsageError } from '@switchyard/cli-kit';

/** A sub-benchmark whose usage errors name it and point to its own --help (`switchyard bench NAME: ...`). */
export function subBenchmark(name: string, run: Command): Command {
  return async (argv, io) => {
    try {
      return await run(argv, io);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      io.stderr.write(`switchyard bench ${name}: ${err.message}\nRun 'switchyard bench ${name} --help' for usage.\n`);
      return USAGE_EXIT_CODE;
    }
  };
}
