import type { TestProject } from 'vitest/node';
import { holdClusterLock, leftovers, missingPrerequisite, vcluster, type ClusterState } from './helpers/vcluster.js';

/**
 * Brings the two-namespace Slurm cluster up once for the cluster project and takes it down at
 * the end, also when tests failed (vitest runs the teardown either way; a run killed outright
 * leaves things the next `vcluster.sh up` removes first). On a machine that cannot run it
 * (not root, no Slurm, no PMIx addon) the tests skip with the reason; with CI set they fail.
 */
export default async function setup(project: TestProject) {
  const missing = missingPrerequisite();
  if (missing) {
    process.stdout.write(`\n[cluster] cross-host tests cannot run here: ${missing}\n`);
    project.provide('vcluster', { up: false, unsupported: true, reason: missing } satisfies ClusterState);
    return;
  }
  // One machine, one such cluster (its namespace names are fixed): another run waits its turn.
  const lock = await holdClusterLock();
  if ('error' in lock) {
    project.provide('vcluster', { up: false, reason: lock.error } satisfies ClusterState);
    return;
  }
  const t0 = Date.now();
  const up = vcluster(['up']);
  const upMs = Date.now() - t0;
  if (up.code !== 0) {
    vcluster(['down']);
    lock.release();
    project.provide('vcluster', {
      up: false,
      reason: `scripts/vcluster.sh up failed (exit ${up.code}):\n${up.out}`,
    } satisfies ClusterState);
    return;
  }
  const slurmConf = /SLURM_CONF=(\S+)/.exec(up.out)?.[1];
  process.stdout.write(`\n[cluster] ${up.out.trim()} (${upMs} ms with the script's start-up)\n`);
  project.provide('vcluster', { up: true, slurmConf, upMs } satisfies ClusterState);
  return () => {
    const t1 = Date.now();
    const down = vcluster(['down']);
    process.stdout.write(`[cluster] vcluster down in ${Date.now() - t1} ms\n`);
    const left = leftovers();
    lock.release();
    if (down.code !== 0 || left)
      throw new Error(`scripts/vcluster.sh down left the machine unclean (exit ${down.code}): ${left ?? ''}\n${down.out}`);
  };
}
