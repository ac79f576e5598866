/**
 * Why this process, with no PMIx variables, must not run as a singleton: another launcher started
 * it as one of several tasks (srun without --mpi=pmix, an mpirun without PMIx), and N singletons
 * would silently each run the whole job alone. Undefined when nothing says so.
 */
export function launchedWithoutPmix(env: NodeJS.ProcessEnv): string | undefined {
  const slurmTasks = Number(env.SLURM_STEP_NUM_TASKS);
  // Set by srun for the tasks of a step (not in a batch script, where `node app.mjs` is a singleton).
  if (Number.isInteger(slurmTasks) && slurmTasks > 1) {
    return `srun started this process as task ${env.SLURM_PROCID ?? '?'} of ${slurmTasks} without PMIx; start the job with \`srun ` +
      `--mpi=pmix\` (or set MpiDefault=pmix in slurm.conf)`;
  }
  const ompiSize = Number(env.OMPI_COMM_WORLD_SIZE);
  if (Number.isInteger(ompiSize) && ompiSize > 1) {
    return `mpirun started this process as rank ${env.OMPI_COMM_WORLD_RANK ?? '?'} of ${ompiSize}, but gave it no PMIx server (no ` +
      `PMIX_NAMESPACE / PMIX_SERVER_URI*); use an Open MPI built with PMIx (4.x or later)`;
  }
  return undefined;
}
