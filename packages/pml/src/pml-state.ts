import { ANY_SOURCE } from './matching.js';

/** A posted receive no message has matched yet, or a message no receive has taken yet. */
export interface PendingEntry {
  /** The communicator's matching context (0: the world, 1: the world's collectives). */
  readonly ctx: number;
  /** The receive's source (ANY_SOURCE: -1), or the message's sender. */
  readonly source: number;
  /** The receive's tag (ANY_TAG: -1), or the message's. */
  readonly tag: number;
  /** A message's size in bytes (absent for a receive). */
  readonly size?: number;
}

/** What a rank's PML holds for one peer, for `ctl status`. */
export interface PmlPeerState {
  readonly rank: number;
  /** Receives posted naming this peer as source, not matched yet. */
  readonly postedReceives: number;
  /** Messages from this peer that arrived before a receive for them was posted. */
  readonly unexpectedMessages: number;
  readonly unexpectedBytes: number;
  /** Large messages to this peer still being sent (waiting for its ACK, or for fragments to be written). */
  readonly rendezvousSending: number;
  /** Large messages from this peer matched and still being received. */
  readonly rendezvousReceiving: number;
  /** Sends to this peer queued behind a full module or the failover window. */
  readonly queuedSends: number;
}

/**
 * The RDMA protocol's counters (they only grow): large messages pulled straight into the
 * receiver's buffer with a BTL's get, and those that went by fragments after all.
 */
export interface PmlRdmaStats {
  /** Rendezvous sent as RGET (the payload left in registered memory). */
  readonly rgetSent: number;
  /** RGETs this rank pulled with get, and the bytes it got itself (a split pull's sender put the rest). */
  readonly pulled: number;
  readonly pulledBytes: number;
  /** RGETs received whose get could not be done (no such link any more, or it failed): sent by fragments. */
  readonly fallbacks: number;
  /** PUT requests this rank served (the second half of a large RGET it sent, put by the receiver's asking), and their bytes. */
  readonly put: number;
  readonly putBytes: number;
  /** Split pulls whose second half this rank took back and got itself (the sender had not begun its put). */
  readonly takenBack: number;
  /** Memory registrations made, and sends that reused a cached one. */
  readonly registrations: number;
  readonly registrationHits: number;
}

/** What `ctl status` shows of a rank's PML: its queues, per peer, and the oldest entries themselves. */
export interface PmlState {
  readonly rdma?: PmlRdmaStats;
  /** Requests not complete yet, sends and receives. */
  readonly outstanding: number;
  /** Receives posted from ANY_SOURCE, not matched yet (they name no peer). */
  readonly postedAnySource: number;
  /** Only peers with something pending. */
  readonly peers: readonly PmlPeerState[];
  /** The oldest posted receives and unexpected messages (at most `PENDING_SHOWN` of each). */
  readonly posted: readonly PendingEntry[];
  readonly unexpected: readonly PendingEntry[];
  /** Waits poll (`pml_busy_poll`); false while they sleep. */
  readonly busyPolling?: boolean;
  /** Why busy polling, asked for, was turned off (more ranks on the host than cores). */
  readonly busyPollStopped?: string;
}

/** How many posted receives and unexpected messages a status lists one by one: enough to spot a mismatch. */
export const PENDING_SHOWN = 16;

/** The raw material the PML hands over; counted here so the PML keeps one job. */
export interface PmlStateInput {
  readonly size: number;
  readonly outstanding: number;
  readonly posted: readonly PendingEntry[];
  readonly unexpected: readonly PendingEntry[];
  readonly sendingTo: Iterable<number>;
  readonly receivingFrom: Iterable<number>;
  readonly queued: readonly number[];
  readonly rdma?: PmlRdmaStats;
  readonly busyPolling?: boolean;
  readonly busyPollStopped?: string;
}

export function summarizePml(input: PmlStateInput): PmlState {
  const peers = Array.from({ length: input.size }, (_, rank) => ({
    rank,
    postedReceives: 0,
    unexpectedMessages: 0,
    unexpectedBytes: 0,
    rendezvousSending: 0,
    rendezvousReceiving: 0,
    queuedSends: input.queued[rank] ?? 0,
  }));
  let postedAnySource = 0;
  for (const p of input.posted) {
    if (p.source === ANY_SOURCE) postedAnySource++;
    else if (peers[p.source]) peers[p.source]!.postedReceives++;
  }
  for (const u of input.unexpected) {
    const peer = peers[u.source];
    if (!peer) continue;
    peer.unexpectedMessages++;
    peer.unexpectedBytes += u.size ?? 0;
  }
  for (const dest of input.sendingTo) if (peers[dest]) peers[dest]!.rendezvousSending++;
  for (const source of input.receivingFrom) if (peers[source]) peers[source]!.rendezvousReceiving++;
  const busy = (p: PmlPeerState) =>
    p.postedReceives + p.unexpectedMessages + p.rendezvousSending + p.rendezvousReceiving + p.queuedSends > 0;
  return {
    rdma: input.rdma,
    outstanding: input.outstanding,
    postedAnySource,
    peers: peers.filter(busy),
    posted: input.posted.slice(0, PENDING_SHOWN),
    unexpected: input.unexpected.slice(0, PENDING_SHOWN),
    ...(input.busyPolling !== undefined ? { busyPolling: input.busyPolling } : {}),
    ...(input.busyPollStopped !== undefined ? { busyPollStopped: input.busyPollStopped } : {}),
  };
}
