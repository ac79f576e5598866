import { constants } from 'node:os';

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
