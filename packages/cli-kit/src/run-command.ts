import { asksForJson, USAGE_EXIT_CODE, UsageError } from './args.js';
import type { Command, CommandIO } from './io.js';

/**
 * Runs one verb the way every `switchyard` command reports a usage error, so a verb's own package
 * (control, bench) and the CLI that loads it print the same thing and exit the same way:
 * USAGE_EXIT_CODE, so a script tells "called it wrong" from a refusal or a failure (1).
 */
export async function runCommand(
  verb: string,
  command: Command,
  argv: string[],
  io: CommandIO,
  options: { readonly jsonUsage?: boolean } = {},
): Promise<number> {
  try {
    return await command(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      // A tool that asked for JSON reads stdout: the usage error is answered there too.
      if (options.jsonUsage && asksForJson(argv)) {
        const answer = { ok: false, outcome: 'usage', code: 'ERR_SWITCHYARD_USAGE', message: err.message };
        io.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
      }
      io.stderr.write(`switchyard ${verb}: ${err.message}\nRun 'switchyard ${verb} --help' for usage.\n`);
      return USAGE_EXIT_CODE;
    }
    throw err;
  }
}
