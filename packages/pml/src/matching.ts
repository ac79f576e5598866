import type { PendingEntry } from './pml-state.js';
import type { RangeSet } from './range-set.js';
import { Request, RequestCancelledError, type Message, type ProbeResult } from './request.js';
import type { SplitPull } from './split-pull.js';
import { MatchIndex } from './match-index.js';

/** Matches any sender (MPI_ANY_SOURCE). */
export const ANY_SOURCE = -1;
/** Matches any tag (MPI_ANY_TAG). */
export const ANY_TAG = -1;
/** ANY_SOURCE and ANY_TAG are one value: the wildcard of either key of a MatchIndex. */
const ANY: typeof ANY_SOURCE & typeof ANY_TAG = -1;

/** A message whose header arrived in order: complete (eager) or its first part (rendezvous). */
export interface Incoming {
  readonly source: number;
  readonly tag: number;
  readonly size: number;
  /** Eager: the whole payload; rendezvous: the first part. Owned (copied out of the BTL's buffer). */
  readonly data: Uint8Array;
  /** Set for a rendezvous: the sender's request id, for the ACK. */
  readonly sendReq?: number;
}

/** A posted receive; for a rendezvous it also accumulates the data. */
export class RecvRequest extends Request<Message> {
  buffer?: Uint8Array;
  /** The caller's buffer to receive into (MPI_Irecv's buffer), instead of a new one per message. */
  into?: Uint8Array;
  /** The message did not fit `into`: it is received and dropped, and the receive fails (MPI_ERR_TRUNCATE). */
  truncated = false;
  /** A rendezvous: the byte ranges that arrived (a fragment sent twice after a fault counts once). */
  ranges: RangeSet | undefined;
  matchedSource = -1;
  matchedTag = -1;
  /** An RGET the sender helps to copy: until both parts are done. */
  split: SplitPull | undefined;
  /** Its place among the receives posted in its context (the oldest matching one takes a message). */
  order = 0;

  constructor(
    readonly source: number,
    readonly tag: number,
  ) {
    super();
  }
}

interface ProbeWaiter {
  readonly source: number;
  readonly tag: number;
  readonly resolve: (r: ProbeResult) => void;
}

const matches = (want: { source: number; tag: number }, m: { source: number; tag: number }) =>
  (want.source === ANY_SOURCE || want.source === m.source) && (want.tag === ANY_TAG || want.tag === m.tag);

/** A message waiting in the unexpected queue, numbered in arrival order. */
class Waiting {
  constructor(
    readonly message: Incoming,
    readonly order: number,
  ) {}
}

/**
 * MPI matching for one context: per-source sequence numbers put headers back in the order they
 * were sent (fragments may come over any module, and a switch may move them mid-stream), then
 * each message meets the oldest matching posted receive, or waits in the unexpected queue in
 * arrival order. A message that a posted receive can take never enters the unexpected queue,
 * so a probe can never overtake a pending receive. Both queues are kept by (source, tag), so
 * matching costs the same however many messages or receives of other senders and tags wait.
 */
export class Matcher {
  readonly #expected: number[];
  readonly #early: Array<Map<number, Incoming>>;
  readonly #posted = new MatchIndex<RecvRequest>((r) => r.order);
  readonly #unexpected = new MatchIndex<Waiting>((w) => w.order);
  /** The number the next posted receive, or the next unexpected message, is given. */
  #nextPost = 0;
  #nextArrival = 0;
  readonly #probes: ProbeWaiter[] = [];

  constructor(
    size: number,
    /** Called when a receive meets its message. */
    private readonly bind: (recv: RecvRequest, message: Incoming) => void,
  ) {
    this.#expected = new Array(size).fill(0);
    this.#early = Array.from({ length: size }, () => new Map());
  }

  /** A header arrived with sequence number `seq` from `message.source`. */
  arrive(seq: number, message: Incoming): void {
    const source = message.source;
    if (seq !== this.#expected[source]) {
      // Behind the expected number: a message already delivered, sent again in another shape
      // after a fault (an eager message resent as a rendezvous). Deliver it once only.
      if (((seq - this.#expected[source]!) | 0) < 0) return;
      this.#early[source]!.set(seq, message);
      return;
    }
    this.#deliver(message);
    let next = (this.#expected[source] = (seq + 1) >>> 0);
    const early = this.#early[source]!;
    for (let m = early.get(next); m; m = early.get(next)) {
      early.delete(next);
      this.#deliver(m);
      next = this.#expected[source] = (next + 1) >>> 0;
    }
  }

  post(recv: RecvRequest): void {
    const waiting = this.#unexpected.oldest(recv.source, recv.tag, ANY);
    if (waiting) {
      this.#unexpected.remove(waiting.message.source, waiting.message.tag, waiting);
      this.bind(recv, waiting.message);
      return;
    }
    recv.order = this.#nextPost++;
    this.#posted.push(recv.source, recv.tag, recv);
  }

  probe(source: number, tag: number): ProbeResult | undefined {
    const m = this.#unexpected.oldest(source, tag, ANY)?.message;
    return m && { source: m.source, tag: m.tag, size: m.size };
  }

  waitProbe(source: number, tag: number): Promise<ProbeResult> {
    const now = this.probe(source, tag);
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => this.#probes.push({ source, tag, resolve }));
  }

  /** Withdraws a posted receive no message has matched (MPI_Cancel); false when it is too late. */
  cancel(recv: RecvRequest): boolean {
    if (!this.#posted.remove(recv.source, recv.tag, recv)) return false;
    recv.fail(new RequestCancelledError());
    return true;
  }

  /** Fails the posted receives that name `source` (the peer is lost); ANY_SOURCE ones stay posted. */
  failSource(source: number, error: Error): void {
    for (const recv of this.#posted.removeSource(source)) recv.fail(error);
  }

  /** True while a receive or probe waits here, or a message waits for one: the context is still in use. */
  get busy(): boolean {
    const { posted, unexpected, early } = this.pending();
    return posted + unexpected + early + this.#probes.length > 0;
  }

  /** Receives posted and not yet matched, messages waiting, headers waiting for earlier ones. */
  pending(): { posted: number; unexpected: number; early: number } {
    return { posted: this.#posted.length, unexpected: this.#unexpected.length, early: this.#early.reduce((n, m) => n + m.size, 0) };
  }

  /** The posted receives and the unexpected messages, oldest first, for a status report. */
  entries(ctx: number): { posted: PendingEntry[]; unexpected: PendingEntry[] } {
    return {
      posted: this.#posted.all().map((r) => ({ ctx, source: r.source, tag: r.tag })),
      unexpected: this.#unexpected.all().map(({ message: m }) => ({ ctx, source: m.source, tag: m.tag, size: m.size })),
    };
  }

  #deliver(message: Incoming): void {
    const { source, tag } = message;
    const posted = this.#posted;
    // The oldest of the four kinds of receive that can take it: (source, tag), (source, ANY_TAG),
    // (ANY_SOURCE, tag), (ANY_SOURCE, ANY_TAG).
    const fromSource = posted.earlier(posted.head(source, tag), posted.head(source, ANY));
    const recv = posted.earlier(fromSource, posted.earlier(posted.head(ANY, tag), posted.head(ANY, ANY)));
    if (recv) {
      posted.remove(recv.source, recv.tag, recv);
      this.bind(recv, message);
      return;
    }
    this.#unexpected.push(source, tag, new Waiting(message, this.#nextArrival++));
    for (let j = 0; j < this.#probes.length; j++) {
      const w = this.#probes[j]!;
      if (matches(w, message)) {
        this.#probes.splice(j--, 1);
        w.resolve({ source: message.source, tag: message.tag, size: message.size });
      }
    }
  }
}
