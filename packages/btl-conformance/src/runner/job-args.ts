import { COMPANION_COMPONENT } from '../companion/index.js';
import type { Setup } from '../options.js';
import { COMPANION_DIR } from './paths.js';

/** Beyond the kit's own limit for a job: the job's own `--timeout`, which only a kit that is gone leaves to fire. */
const OUTLIVE_S = 30;

/**
 * `switchyard run` arguments shared by the kit's jobs: ranks, where components are, the user's
 * params, and a time limit of the job's own a little past the kit's (`limitMs`): a test run
 * interrupted (Ctrl-C on the test runner) leaves no job running, whose ranks would wait for a
 * stop that never comes.
 */
export function jobArgs(setup: Setup, btls: readonly string[], limitMs: number): string[] {
  const args = ['run', '-n', String(setup.ranks), '--timeout', String(Math.ceil(limitMs / 1000) + OUTLIVE_S)];
  args.push('--mca', 'mca_component_path', `${setup.packageDir},${COMPANION_DIR}`);
  args.push('--mca', 'btl', [...new Set(btls)].join(','));
  for (const [key, value] of setup.params) args.push('--mca', key, value);
  return args;
}

export { COMPANION_COMPONENT };
