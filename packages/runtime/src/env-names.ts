/**
 * The environment the launcher gives each rank: Open MPI's `OMPI_COMM_WORLD_*` and `PMIX_*`
 * role. A process without `SWITCHYARD_HNP_URI` was not started by a launcher (a singleton).
 */
export const ENV_JOB_ID = 'SWITCHYARD_JOB_ID';
export const ENV_RANK = 'SWITCHYARD_RANK';
export const ENV_SIZE = 'SWITCHYARD_SIZE';
/** Path of the HNP's Unix-domain socket. */
export const ENV_HNP_URI = 'SWITCHYARD_HNP_URI';
/** The job secret that authenticates a rank's OOB connection and the transports' connections. */
export const ENV_JOB_SECRET = 'SWITCHYARD_JOB_SECRET';
/**
 * The launcher's `--mca KEY VALUE` pairs as JSON `[[key, value], ...]`, so the rank's parameter
 * system credits them to the command line rather than the environment (same name as
 * `ENV_COMMAND_LINE` of @switchyard/mca).
 */
export const ENV_MCA_CLI = 'SWITCHYARD_MCA_CLI';
/**
 * Which rank runs the job's controller when another launcher (mpirun, srun) started it; default 0.
 * Every rank must see the same value (mpirun: `-x SWITCHYARD_CONTROLLER_RANK`).
 */
export const ENV_CONTROLLER_RANK = 'SWITCHYARD_CONTROLLER_RANK';
