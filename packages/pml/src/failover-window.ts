import type { BmlBtl } from '@switchyard/core-bml';
import type { FragType } from './header.js';
import type { KeepRing } from './keep-ring.js';
import type { SendRequest } from './send-request.js';

/**
 * One send of a fragment, counted by its request until the module completes it, or until its
 * link fails and the fragment is left to failover (a module may take long to give back the
 * sends of a dead link: retries). Settles once.
 */
export class Attempt {
  #done = false;

  constructor(readonly req: SendRequest) {}

  settle(): void {
    if (this.#done) return;
    this.#done = true;
    this.req.outstanding -= 1;
    this.req.settle();
  }
}

/**
 * A fragment sent to a peer and not yet acknowledged by it: what failover sends again when the
 * link it went over fails. An eager message keeps a copy of its payload (the caller may reuse
 * its buffer once the send completes); rendezvous parts point into the caller's buffer, whose
 * request completes only once they are acknowledged.
 */
export class Retained {
  /** Taken out of the window (acknowledged, or the peer was lost). */
  released = false;
  /** In the peer's replay queue. */
  queued = false;
  /** The first send, while its request still counts it. */
  attempt: Attempt | undefined;
  /** The ring an eager message's copy of its payload is in, and where (see KeepRing.release). */
  ring: KeepRing | undefined;
  keptGeneration = 0;
  keptEnd = 0;

  constructor(
    readonly fseq: number,
    public kind: FragType,
    public segments: Uint8Array[],
    /** The link it last went over. */
    public via: BmlBtl | undefined,
    /** The rendezvous request waiting for this fragment's acknowledgement. */
    public req: SendRequest | undefined,
  ) {
    this.size = this.bytes;
  }

  /** Its size when it was kept, as the window counts it (a fragment cut to fit keeps its count). */
  readonly size: number;

  get bytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.length;
    return n;
  }
}

/** `a` comes before `b` in 32-bit serial-number order (RFC 1982): sequence numbers wrap. */
export function before(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** The sequence number after `n`; 0 is skipped (it marks a fragment sent without failover). */
export function nextSeq(n: number): number {
  return (n + 1) >>> 0 || 1;
}

/** Our fragments to one peer: numbered in order, kept until the peer's cumulative acknowledgement. */
export class OutboundWindow {
  next = 1;
  readonly #items: Retained[] = [];
  #head = 0;

  take(): number {
    const fseq = this.next;
    this.next = nextSeq(fseq);
    return fseq;
  }

  /** Bytes of the fragments kept (copies and views). */
  bytes = 0;

  add(entry: Retained): void {
    this.#items.push(entry);
    this.bytes += entry.size;
  }

  /** Every fragment numbered below `ackd` arrived: release them (calls `released` for each). */
  acknowledge(ackd: number, released: (entry: Retained) => void): void {
    const items = this.#items;
    while (this.#head < items.length && before(items[this.#head]!.fseq, ackd)) {
      const entry = items[this.#head]!;
      items[this.#head++] = undefined as never;
      this.bytes -= entry.size;
      if (!entry.released) {
        entry.released = true;
        released(entry);
      }
    }
    if (this.#head > 1024 && this.#head * 2 > items.length) {
      items.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** The oldest fragment not acknowledged yet. */
  oldest(): Retained | undefined {
    for (let i = this.#head; i < this.#items.length; i++) {
      const entry = this.#items[i]!;
      if (!entry.released) return entry;
    }
    return undefined;
  }

  /** Fragments not acknowledged yet, oldest first. */
  *pending(): Iterable<Retained> {
    for (let i = this.#head; i < this.#items.length; i++) {
      const entry = this.#items[i]!;
      if (!entry.released) yield entry;
    }
  }

  get size(): number {
    return this.#items.length - this.#head;
  }
}

/** The peer's fragments that arrived: which numbers, to drop one that comes twice and to acknowledge. */
export class InboundWindow {
  /** Every fragment numbered below this arrived. */
  cumulative = 1;
  /** The cumulative acknowledgement last sent to the peer. */
  advertised = 1;
  /** A duplicate arrived: the peer may have missed our acknowledgement, send it again. */
  repeat = false;
  readonly #beyond = new Set<number>();

  /** True the first time `fseq` arrives, false for a duplicate. */
  accept(fseq: number): boolean {
    if (fseq === this.cumulative) {
      let next = nextSeq(fseq);
      const beyond = this.#beyond;
      while (beyond.size && beyond.delete(next)) next = nextSeq(next);
      this.cumulative = next;
      return true;
    }
    if (before(fseq, this.cumulative) || this.#beyond.has(fseq)) {
      this.repeat = true;
      return false;
    }
    this.#beyond.add(fseq);
    return true;
  }

  /** Fragments arrived since the last acknowledgement we sent. */
  get unacknowledged(): number {
    return (this.cumulative - this.advertised) >>> 0;
  }
}
