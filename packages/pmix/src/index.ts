/**
 * @switchyard/pmix: a Node-API binding to the PMIx client library, the wire-up of processes
 * started by mpirun, srun --mpi=pmix and other PMIx launchers. The native part is optional: the
 * package always installs, and loading reports why the addon is unavailable.
 */
export { PmixClient, type FenceOptions, type PmixJobInfo } from './client.js';
export { ADDON_PATH_ENV, ERR_PMIX_UNAVAILABLE, loadNative, nativeAvailable, PmixUnavailableError, type LoadOptions } from './load.js';
export { ENV_PMIX_NAMESPACE, ENV_PMIX_RANK, isPmixLaunched } from './launched.js';
export type { NativeJobInfo, NativePmix } from './native.js';
