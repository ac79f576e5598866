import type { ParamRegistry } from '@switchyard/mca';
import { HEADER } from './fragments.js';

/**
 * Moves `eager_limit` and `max_send_size` off their defaults before the kit loads the component,
 * so a module that hard-codes the defaults instead of reading its parameters is caught by
 * eager-limit (with the defaults, a constant equal to them passes). A value the user set is kept.
 * Returns what was set, for the log.
 */
export function moveSizesOffDefaults(registry: ParamRegistry, prefix: string): string[] {
  const changed: string[] = [];
  const eager = `${prefix}eager_limit`;
  const max = `${prefix}max_send_size`;
  if (!registry.has(eager) || !registry.has(max)) return changed;
  const eagerInfo = registry.info(eager);
  const maxInfo = registry.info(max);
  const maxNow = maxInfo.value as number;
  // Smaller than the defaults: a larger fragment may not fit a transport's buffers.
  const newMax = maxInfo.source === 'default' ? below(maxNow, Math.max(HEADER * 4, (eagerInfo.value as number))) : maxNow;
  if (newMax !== maxNow && trySet(registry, max, newMax)) changed.push(`${max}=${newMax}`);
  const maxSet = registry.get<number>(max);
  const eagerNow = registry.get<number>(eager);
  if (eagerInfo.source === 'default') {
    const newEager = Math.min(below(eagerNow, HEADER * 2), maxSet);
    if (newEager !== eagerNow && trySet(registry, eager, newEager)) changed.push(`${eager}=${newEager}`);
  }
  return changed;
}

/**
 * The kit runs every rule with the sizes moved (above), so it never sees the module at its own
 * defaults, where users run it: the declared defaults must be consistent too (an eager limit above
 * the largest fragment makes every eager message between the two sizes a refused send).
 */
export function sizeDefaultProblems(registry: ParamRegistry, prefix: string): string[] {
  const eager = `${prefix}eager_limit`;
  const max = `${prefix}max_send_size`;
  if (!registry.has(eager) || !registry.has(max)) return [];
  const eagerDefault = registry.info(eager).spec.default as number;
  const maxDefault = registry.info(max).spec.default as number;
  if (eagerDefault <= maxDefault) return [];
  return [`the declared defaults do not fit: ${eager} defaults to ${eagerDefault}, above ${max}'s default ${maxDefault}, so at its ` +
    `defaults the module advertises eager messages larger than its largest fragment (checkBaseSettings in open() refuses this)`];
}

/**
 * The figures the BML ranks modules by (`exclusivity`, `latency`, `bandwidth`): each the btl
 * base declared is moved one above its default (a value the user set is kept), so a module that
 * hard-codes them (a user's `--mca btl_<name>_exclusivity` would change nothing) is caught.
 * Harmless to the check itself: the kit, in the BML's place, ranks nothing.
 */
export const FIGURES = ['exclusivity', 'latency', 'bandwidth'] as const;

export function moveFiguresOffDefaults(registry: ParamRegistry, prefix: string): string[] {
  const changed: string[] = [];
  for (const param of FIGURES) {
    const name = `${prefix}${param}`;
    if (!registry.has(name) || registry.info(name).source !== 'default') continue;
    const value = (registry.get<number>(name) ?? 0) + 1;
    if (trySet(registry, name, value)) changed.push(`${name}=${value}`);
  }
  return changed;
}

/** Three quarters of `value`, a multiple of 8, not below `floor` (the value itself if it is that small). */
function below(value: number, floor: number): number {
  const smaller = Math.floor((value * 3) / 4 / 8) * 8;
  return smaller >= floor && smaller < value ? smaller : value;
}

/** A value the parameter's own checks refuse (its min, a validate) leaves the default in place. */
function trySet(registry: ParamRegistry, name: string, value: number): boolean {
  try {
    registry.setRuntime(name, value, { beforeOpen: true });
    return true;
  } catch {
    return false;
  }
}
