import { COMPANION_COMPONENT } from '../companion/index.js';
import type { Setup } from '../options.js';
import { COMPANION_DIR } from './paths.js';

/** `switchyard run` arguments shared by the kit's jobs: ranks, where components are, the user's params. */
export function jobArgs(setup: Setup, btls: readonly string[]): string[] {
  const args = ['run', '-n', String(setup.ranks), '--mca', 'mca_component_path', `${setup.packageDir},${COMPANION_DIR}`];
  args.push('--mca', 'btl', [...new Set(btls)].join(','));
  for (const [key, value] of setup.params) args.push('--mca', key, value);
  return args;
}

export { COMPANION_COMPONENT };
