import type { Transport } from './types.js';

/** The raw Node TCP baseline's name in runs and comparisons. */
export const RAW_TRANSPORT = 'raw-node-tcp';

/** `switchyard-<btl>` or `raw-node-tcp`. */
export function transportName(t: Transport): string {
  return t.kind === 'raw' ? RAW_TRANSPORT : `switchyard-${t.btl}`;
}

/** The short name in progress lines: the BTL, or `raw`. */
export function shortName(t: Transport): string {
  return t.kind === 'raw' ? 'raw' : t.btl;
}
