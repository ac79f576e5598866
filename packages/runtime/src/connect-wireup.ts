import { EmbeddedWireUp } from './embedded-wireup.js';
import { ENV_HNP_URI } from './env-names.js';
import { SingletonWireUp } from './singleton-wireup.js';
import type { WireUp, WireUpOptions } from './wireup.js';

/**
 * The wire-up this process should use: the launcher's OOB channel when `switchyard run` started
 * it (SWITCHYARD_HNP_URI is set), else a singleton job of one rank.
 */
export async function connectWireUp(env: NodeJS.ProcessEnv = process.env, options: WireUpOptions = {}): Promise<WireUp> {
  if (env[ENV_HNP_URI]) return EmbeddedWireUp.connect(env, options);
  return new SingletonWireUp(env);
}
