import type { Command, CommandIO } from '@switchyard/cli-kit';
import { importOwnPackage } from './own-package.js';

/** A package of its own that the app package does not depend on (it depends on the app API). */
const BENCH_PACKAGE = '@switchyard/bench';

/**
 * `switchyard bench`, from @switchyard/bench when it is installed; otherwise a command that says
 * how to get it. The specifier is a variable so that building this package needs no bench.
 */
export async function loadBench(): Promise<Command> {
  const specifier: string = BENCH_PACKAGE;
  try {
    const own = await importOwnPackage<{ bench: Command }>(specifier);
    if (own) return own.bench;
  } catch (err) {
    if (!isMissing(err, specifier)) throw err;
  }
  return async (_argv: string[], io: CommandIO) => {
    io.stderr.write(
      `switchyard bench: the benchmarks are a separate package, ${BENCH_PACKAGE}, which is not installed.\nInstall it beside this one: ` +
        `npm install --save-dev ${BENCH_PACKAGE}\n`,
    );
    return 1;
  };
}

/** Node's code for an import that names a package nobody installed (not an error inside it). */
function isMissing(err: unknown, specifier: string): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === 'ERR_MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(`'${specifier}'`);
}
