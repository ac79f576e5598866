import { traceHooks } from '@switchyard/mca';
import type { Bml } from './bml.js';

/**
 * Logs every BML event (`btl_base_verbose`): a plugin whose interceptor sees each hook's calls,
 * so tracing needs no code in the BML. `writable` is left out: it fires per fragment.
 */
export class BmlTracePlugin {
  constructor(
    readonly label: string,
    readonly log: (line: string) => void,
  ) {}

  apply(bml: Bml): void {
    const { writable: _perFragment, ...hooks } = bml.hooks;
    traceHooks(hooks, this.label, this.log);
  }
}
