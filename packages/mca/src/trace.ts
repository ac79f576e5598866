import type { HookRecord } from './hook-scope.js';

/**
 * Logs every call of every hook in a record, as webpack's ProfilingPlugin does: tracing is an
 * interceptor on the hooks, never code inside them.
 */
export function traceHooks(hooks: HookRecord, label: string, log: (line: string) => void): void {
  for (const [name, hook] of Object.entries(hooks)) {
    const h = hook as { intercept?: (i: { call: (...args: unknown[]) => void }) => void };
    h.intercept?.({ call: (...args: unknown[]) => log(`[${label}] ${name}(${args.map(summarize).join(', ')})`) });
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
