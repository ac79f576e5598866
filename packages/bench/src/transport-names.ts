import type { RawSocket, Transport } from './types.js';

/** The raw Node TCP baseline's name in runs and comparisons. */
export const RAW_TRANSPORT = 'raw-node-tcp';
/** The raw Node baseline over a Unix domain socket. */
export const RAW_UDS_TRANSPORT = 'raw-node-uds';
/** Open MPI's tcp BTL, the second baseline Switchyard runs are compared with. */
export const OMPI_TCP_TRANSPORT = 'ompi-tcp';

const RAW_NAMES: Record<RawSocket, string> = { tcp: RAW_TRANSPORT, uds: RAW_UDS_TRANSPORT };
/** How tables and charts head a raw baseline's figures. */
const RAW_LABELS: Record<string, string> = { [RAW_TRANSPORT]: 'raw Node TCP', [RAW_UDS_TRANSPORT]: 'raw Node UDS' };

export const rawTransportName = (socket: RawSocket) => RAW_NAMES[socket];

/** `switchyard-<btl>[-<variant>]`, `raw-node-tcp`, `raw-node-uds` or `ompi-<btl>`. */
export function transportName(t: Transport): string {
  return t.kind === 'raw'
    ? rawTransportName(t.socket)
    : t.kind === 'ompi'
      ? `ompi-${t.btl}`
      : `switchyard-${t.btl}${t.variant ? `-${t.variant.name}` : ''}`;
}

/** The short name in progress lines: the BTL, `raw` (TCP), `raw-uds`, or `ompi-<btl>`. */
export function shortName(t: Transport): string {
  if (t.kind === 'raw') return t.socket === 'tcp' ? 'raw' : `raw-${t.socket}`;
  return t.kind === 'ompi' ? `ompi-${t.btl}` : t.variant ? `${t.btl}-${t.variant.name}` : t.btl;
}

/** A run's heading in tables and charts: raw baselines by their socket, the others by name. */
export const displayName = (transport: string) => RAW_LABELS[transport] ?? transport;

export const isSwitchyardRun = (transport: string) => transport.startsWith('switchyard-');
