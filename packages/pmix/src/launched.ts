/** The variables a PMIx launcher (mpirun, srun --mpi=pmix, prun, flux) gives each process. */
export const ENV_PMIX_NAMESPACE = 'PMIX_NAMESPACE';
export const ENV_PMIX_RANK = 'PMIX_RANK';
const SERVER_URI_PREFIX = 'PMIX_SERVER_URI';

/**
 * True when this process was started by a PMIx launcher: its namespace, its rank and the address
 * of a PMIx server (PMIX_SERVER_URI2, ...21, ...3, ...4, ...41 depending on versions) are set.
 * Checked before loading the addon, so a machine without libpmix never tries.
 */
export function isPmixLaunched(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!env[ENV_PMIX_NAMESPACE] || env[ENV_PMIX_RANK] === undefined || env[ENV_PMIX_RANK] === '') return false;
  return Object.keys(env).some((name) => name.startsWith(SERVER_URI_PREFIX) && Boolean(env[name]));
}
