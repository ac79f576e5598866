import { isPmixLaunched } from '@switchyard/pmix';
import { EmbeddedWireUp } from './embedded-wireup.js';
import { ENV_HNP_URI } from './env-names.js';
import { WireUpError } from './errors.js';
import { launchedWithoutPmix } from './launched-without-pmix.js';
import { PmixWireUp } from './pmix-wireup.js';
import { SingletonWireUp } from './singleton-wireup.js';
import type { WireUp, WireUpOptions } from './wireup.js';

/**
 * The wire-up this process should use: the launcher's OOB channel when `switchyard run` started
 * it (SWITCHYARD_HNP_URI is set), PMIx when a PMIx launcher did (mpirun, srun --mpi=pmix: PMIX_*
 * variables), else a singleton job of one rank (plain `node`). A process another launcher started
 * as one of several tasks without PMIx is refused rather than run as a singleton.
 */
export async function connectWireUp(env: NodeJS.ProcessEnv = process.env, options: WireUpOptions = {}): Promise<WireUp> {
  if (env[ENV_HNP_URI]) return EmbeddedWireUp.connect(env, options);
  if (isPmixLaunched(env)) return PmixWireUp.connect(env, options);
  const refused = launchedWithoutPmix(env);
  if (refused) throw new WireUpError(refused);
  return new SingletonWireUp(env);
}
