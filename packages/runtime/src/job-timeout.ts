import { constants } from 'node:os';
import type { LaunchOptions } from './job-types.js';

/** mpirun ends a job that outlived --timeout with ETIMEDOUT as its exit status (110 on Linux). */
export const TIMEOUT_EXIT_CODE = constants.errno.ETIMEDOUT;

/** Worded as mpirun's notice (its first two lines), so people and scripts that know it recognise it. */
export function timeoutNotice(seconds: number): string {
  const rule = '-'.repeat(74);
  return `${rule}
The user-provided time limit for job execution has been reached:

  Timeout: ${seconds} seconds

The job is being aborted. Check the program, or raise or remove the limit
(switchyard run --timeout, or the MPIEXEC_TIMEOUT environment variable).
${rule}
`;
}

/** How long the state dump of a timed-out job may take: a hung rank must not hold the launcher. */
export const TIMEOUT_DUMP_MS = 10_000;

/** Writes the job's state (options.timeoutDump) to stderr, bounded by TIMEOUT_DUMP_MS; never rejects. */
export async function dumpBeforeTimeout(options: LaunchOptions, log: (line: string) => void): Promise<void> {
  if (!options.timeoutDump) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), TIMEOUT_DUMP_MS)));
  try {
    const text = await Promise.race([options.timeoutDump(), late]);
    if (text === undefined) log(`the state of the ranks did not come within ${TIMEOUT_DUMP_MS} ms`);
    else options.stderr.write(`state of the job at its time limit:\n${text}`);
  } catch (err) {
    log(`could not gather the state of the ranks: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}
