/**
 * What the launcher adds when it ends a job while ranks wait in the finalize the runtime ran for
 * them at exit (their script ended without calling finalize()): MPI_Finalize is collective, so
 * they wait for every other rank, and a rank that still waits for a message from them never gets
 * it. mpirun's job hangs the same way; this says where.
 */
export function finalizeAtExitNote(ranks: readonly number[]): string {
  const who = ranks.length === 1 ? `rank ${ranks[0]}` : `ranks ${ranks.join(', ')}`;
  const them = ranks.length === 1 ? 'it' : 'them';
  return (
    `${who} ended without calling finalize() and waited in the finalize run at exit for the other ranks ` +
    `(finalize is collective): a rank waiting for a message from ${them} would have waited for ever`
  );
}
