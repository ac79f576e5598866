import { parseGid, type LinkLayer, type PortInfo } from '@switchyard/verbs';

/**
 * What an openib module publishes in the modex: its port's address and, per rank, the QP it
 * created for that rank. With both sides' QPNs in the modex, add_procs can take every QP to RTS
 * without a connection manager; the first exchange over the QP tells each side the other is ready.
 */
export interface OpenibCard {
  readonly provider: 'native' | 'soft';
  readonly hostname: string;
  readonly device: string;
  readonly port: number;
  readonly lid: number;
  readonly gid: string;
  readonly linkLayer: LinkLayer;
  readonly mtu: number;
  /** The QP number this module created for each rank (index = rank; 0 for its own rank). */
  readonly qpns: readonly number[];
  /** Receive buffers it pre-posts per peer: the data credits a peer starts with. */
  readonly recvBuffers: number;
  /** Its max_send_size: the largest fragment it sends, so peers size their buffers for it. */
  readonly maxSendSize: number;
}

const LINK_LAYERS: readonly string[] = ['UNSPECIFIED', 'INFINIBAND', 'ETHERNET'];

/** Checks a card read from the modex (it comes from another process). */
export function parseCard(value: unknown, size: number): { card: OpenibCard } | { problem: string } {
  if (value === null || typeof value !== 'object') return { problem: 'no openib business card' };
  const v = value as Record<string, unknown>;
  const int = (x: unknown, min: number, max: number) => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;
  if (v.provider !== 'native' && v.provider !== 'soft') return { problem: 'unknown provider' };
  if (typeof v.hostname !== 'string' || typeof v.device !== 'string') return { problem: 'no hostname or device' };
  if (!int(v.port, 1, 255) || !int(v.lid, 0, 0xffff) || !int(v.mtu, 256, 4096)) return { problem: 'invalid port, lid or mtu' };
  if (typeof v.gid !== 'string') return { problem: 'no gid' };
  try {
    parseGid(v.gid);
  } catch {
    return { problem: `invalid gid ${JSON.stringify(v.gid)}` };
  }
  if (typeof v.linkLayer !== 'string' || !LINK_LAYERS.includes(v.linkLayer)) return { problem: 'invalid link layer' };
  if (!Array.isArray(v.qpns) || v.qpns.length !== size || !v.qpns.every((q) => int(q, 0, 0xff_ffff)))
    return { problem: 'invalid QPN list' };
  if (!int(v.recvBuffers, 1, 1 << 16) || !int(v.maxSendSize, 1, 1 << 30)) return { problem: 'invalid recvBuffers or maxSendSize' };
  return { card: v as unknown as OpenibCard };
}

/** GID subnet prefix (first 64 bits): ports on one fabric share it. */
function subnetPrefix(gid: string): string {
  return Buffer.from(parseGid(gid).subarray(0, 8)).toString('hex');
}

/**
 * Why our port cannot reach the peer's, or undefined when it can. Same provider and link layer,
 * and: soft — the same host (the soft provider is userspace on one host; its Unix sockets would
 * even cross network namespaces on a shared file system, but a peer on another "host" must not
 * be reached by a same-host transport); native — the same subnet (GID prefix), plus a LID on
 * InfiniBand.
 */
export function unreachableBecause(
  own: { provider: 'native' | 'soft'; port: PortInfo },
  peer: OpenibCard,
  peerIsLocal: boolean,
): string | undefined {
  if (peer.provider !== own.provider) return `its port is on the ${peer.provider} provider, ours on ${own.provider}`;
  if (peer.linkLayer !== own.port.linkLayer) return `its link layer is ${peer.linkLayer}, ours ${own.port.linkLayer}`;
  if (own.provider === 'soft')
    return peerIsLocal ? undefined : `it runs on another host (${peer.hostname}) and the soft provider reaches only this one`;
  if (subnetPrefix(peer.gid) !== subnetPrefix(own.port.gid))
    return `its GID subnet ${subnetPrefix(peer.gid)} is not ours (${subnetPrefix(own.port.gid)})`;
  return peer.linkLayer === 'ETHERNET' || peer.lid !== 0 ? undefined : 'its InfiniBand port has no LID';
}
