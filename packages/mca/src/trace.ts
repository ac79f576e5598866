import type { HookRecord } from './hook-scope.js';

/**
 * Logs every call of every hook of a target (`<framework>_base_verbose`), as webpack's
 * ProfilingPlugin does: a plugin whose interceptors see the calls, so tracing needs no code in
 * what it traces. `skip` leaves out hooks that fire too often to be worth a line each.
 */
export class TracePlugin {
  constructor(
    readonly label: string,
    readonly log: (line: string) => void,
    readonly skip: readonly string[] = [],
  ) {}

  apply(target: { readonly hooks: HookRecord }): void {
    for (const [name, hook] of Object.entries(target.hooks)) {
      if (this.skip.includes(name)) continue;
      const h = hook as { intercept?: (i: { call: (...args: unknown[]) => void }) => void };
      h.intercept?.({ call: (...args: unknown[]) => this.log(`[${this.label}] ${name}(${args.map(summarize).join(', ')})`) });
    }
  }
}

function summarize(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') {
    const v = value as { traceLabel?: () => string; name?: unknown };
    if (typeof v.traceLabel === 'function') return v.traceLabel();
    if (typeof v.name === 'string') return v.name;
    return Array.isArray(value) ? `[${value.length}]` : '{…}';
  }
  return typeof value === 'string' ? value : String(value);
}
