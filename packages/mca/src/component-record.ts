import type { FoundComponent } from './discovery.js';
import type { HookScope } from './hook-scope.js';

/**
 * Where a component is in its life. `declared`: found from its package.json, not imported (its
 * code has not run). `skipped` (incompatible API), `failed` (import, register or
 * open threw) and `unavailable` (open declined) are final until a re-scan; `closed` can be loaded
 * again.
 */
export type ComponentStatus =
  | 'declared'
  | 'registered'
  | 'excluded'
  | 'skipped'
  | 'failed'
  | 'unavailable'
  | 'opened'
  | 'active'
  | 'closed';

/** One component of a framework: what was found, what it is now, and what it made. */
export class ComponentRecord<C = unknown, M = unknown> {
  status: ComponentStatus = 'declared';
  /** Its import was attempted (once per discovery: a failed one is not retried). */
  imported = false;
  /** Why it is skipped, failed, unavailable or excluded. */
  reason?: string;
  /** What its last successful `open` reported about itself (provider, devices...). */
  details: readonly string[] = [];
  component?: C;
  modules: readonly M[] = [];
  /** How many times it has been initialised in this process (re-loads count). */
  loads = 0;
  /** The hook scope of the current load: disposed at unload so stale taps never run. */
  scope?: HookScope;
  /**
   * It failed in `init`, which depends on the machine's state at the time (no room in /dev/shm,
   * a device busy): a later hot load tries again, where a failed import or register is final.
   */
  failedAtInit = false;

  constructor(
    readonly framework: string,
    readonly found: FoundComponent,
  ) {}

  get name(): string {
    return this.found.manifest.component;
  }

  /** Usable: imported, registered and neither skipped nor failed (but in `init`: tried again). */
  get loadable(): boolean {
    return this.component !== undefined && this.status !== 'skipped' && (this.status !== 'failed' || this.failedAtInit);
  }

  traceLabel(): string {
    return `${this.framework}/${this.name}`;
  }
}
