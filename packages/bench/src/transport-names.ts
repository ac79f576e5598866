import type { Transport } from './types.js';

/** The raw Node TCP baseline's name in runs and comparisons. */
export const RAW_TRANSPORT = 'raw-node-tcp';
/** Open MPI's tcp BTL, the second baseline Switchyard runs are compared with. */
export const OMPI_TCP_TRANSPORT = 'ompi-tcp';

/** `switchyard-<btl>[-<variant>]`, `raw-node-tcp` or `ompi-<btl>`. */
export function transportName(t: Transport): string {
  return t.kind === 'raw'
    ? RAW_TRANSPORT
    : t.kind === 'ompi'
      ? `ompi-${t.btl}`
      : `switchyard-${t.btl}${t.variant ? `-${t.variant.name}` : ''}`;
}

/** The short name in progress lines: the BTL, `raw`, or `ompi-<btl>`. */
export function shortName(t: Transport): string {
  return t.kind === 'raw' ? 'raw' : t.kind === 'ompi' ? `ompi-${t.btl}` : t.variant ? `${t.btl}-${t.variant.name}` : t.btl;
}

export const isSwitchyardRun = (transport: string) => transport.startsWith('switchyard-');
