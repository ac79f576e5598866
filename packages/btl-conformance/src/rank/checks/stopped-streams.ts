import type { BtlEndpoint, BtlModule } from '@switchyard/btl-interface';
import { makeFragment, segmentsOf, tagOf } from '../fragments.js';
import type { Wiring } from '../wiring.js';
import { watchedSend, type WatchedCompletion } from './completion.js';

// The sending side of a peer stopped from outside, shared by stopped-peer, its window reading
// and finalize-stopped-peer.

/** What is sent to a stopped peer at most: a module whose send never says false is failed by back-pressure, not here. */
const CAP_BYTES = 24 * 1024 * 1024;

/** The odd ranks of the job: stopped, while the even ranks send to them. */
export function oddRanks(wiring: Wiring): number[] {
  return wiring.reach.map((_, r) => r).filter((r) => r % 2 === 1);
}

export interface Stream {
  readonly module: BtlModule;
  readonly moduleIndex: number;
  readonly peer: number;
  readonly endpoint: BtlEndpoint;
  readonly watches: WatchedCompletion[];
  /** `send` returned false at these fragments. */
  readonly falses: number[];
  threw?: string;
}

/**
 * Sends the kit's fragments to one stopped peer until `send` returns false (true then), `count`
 * more went, or CAP_BYTES in all.
 */
export function sendUntilFalse(stream: Stream, me: number, test: number, count = Number.POSITIVE_INFINITY): boolean {
  const size = Math.min(stream.module.maxSendSize, 256 * 1024);
  const cap = Math.min(stream.watches.length + count, Math.ceil(CAP_BYTES / size));
  while (stream.watches.length < cap && stream.threw === undefined) {
    const seq = stream.watches.length;
    const bytes = makeFragment(test, { sender: me, seq, moduleIndex: stream.moduleIndex }, size);
    const sent = watchedSend((done) => stream.module.send(stream.endpoint, tagOf(test), segmentsOf(bytes, seq), done));
    if (sent.threw) {
      stream.threw = `send of fragment ${seq} to rank ${stream.peer} threw: ${sent.threw.message}`;
      return false;
    }
    stream.watches.push(sent.watch);
    if (sent.accepted === false) {
      stream.falses.push(seq);
      return true;
    }
  }
  return false;
}

export function streamsTo(wiring: Wiring, ranks: readonly number[]): Stream[] {
  return wiring.modules.flatMap((module, moduleIndex) =>
    [...wiring.endpoints[moduleIndex]!]
      .filter(([peer]) => ranks.includes(peer))
      .map(([peer, endpoint]) => ({ module, moduleIndex, peer, endpoint, watches: [], falses: [] })),
  );
}
