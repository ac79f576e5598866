import { UsageError } from './args.js';
import type { Command, CommandIO } from './io.js';

/**
 * Runs one verb the way every `switchyard` command reports a usage error, so a verb's own package
 * (control, bench) and the CLI that loads it print the same thing and exit the same way.
 */
export async function runCommand(verb: string, command: Command, argv: string[], io: CommandIO, usageExit = 1): Promise<number> {
  try {
    return await command(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`switchyard ${verb}: ${err.message}\nRun 'switchyard ${verb} --help' for usage.\n`);
      return usageExit;
    }
    throw err;
  }
}
