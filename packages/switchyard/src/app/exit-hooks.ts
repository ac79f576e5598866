import type { World } from './world.js';

/**
 * How a rank's script ends, as under mpi4py and Open MPI's mpirun:
 *
 * - It returns without calling finalize(): once the event loop has nothing left to do, Node
 *   emits 'beforeExit' (the transports' handles do not keep the loop alive, and the PML holds it
 *   only while a request is pending, so a rank waiting for a message keeps waiting), and the
 *   world is finalized then, as mpi4py does at interpreter exit. The process then exits with the
 *   script's exit code. A hook on 'beforeExit' is what Node offers for "the program is done";
 *   polling for idleness could not tell the application's handles from the runtime's.
 * - It throws (an uncaught exception, an unhandled rejection): the rank names itself and the
 *   error on stderr, Node exits non-zero, and the launcher ends the job as mpirun does.
 *
 * `process.exit()` skips both; a rank that leaves like that without finalize fails the job.
 */
export function installExitHooks(world: World): void {
  const atExit = (): void => {
    const finalizing = world.finalizeAtExit();
    if (!finalizing) {
      process.off('beforeExit', atExit);
      return;
    }
    finalizing.catch((err: unknown) => {
      process.stderr.write(`switchyard: rank ${world.rank}: the finalize run at exit failed: ${describe(err)}\n`);
      if (!process.exitCode) process.exitCode = 1;
    });
  };
  process.on('beforeExit', atExit);
  process.on('uncaughtExceptionMonitor', (err, origin) => {
    const what = origin === 'unhandledRejection' ? 'an unhandled promise rejection' : 'an uncaught exception';
    process.stderr.write(`switchyard: rank ${world.rank} (pid ${process.pid}) ends with ${what}: ${describe(err)}\n`);
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
