/**
 * The layout of one process's segment: a header, then one ring per possible sender rank (the
 * receiver owns the memory, each sender is the only producer of its ring: single producer,
 * single consumer, as vader's fast boxes). Offsets in bytes; the header is read as Int32 words.
 *
 * header: [0] magic, [1] layout version, [2] owner rank, [3] job size, [4] fifo size, [5] closed,
 *         [16] sleeping (own cache line: the doorbell protocol), [32..] registration keys.
 * ring:   a 192-byte control block (head, tail, producer-waiting, each on its own cache line),
 *         then `fifoSize` bytes of records: [int32 length + 1][int32 tag][payload][pad to 8]; the
 *         header word is 0 where no record is yet (see Ring).
 */
export const MAGIC = 0x53594d53; // 'SYMS'
export const LAYOUT_VERSION = 2;

export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_RANK = 2;
export const H_SIZE = 3;
export const H_FIFO = 4;
/** Set by the owner's finalize: its peers fail their sends to it and report the link lost. */
export const H_CLOSED = 5;
/** 1 while the owner's event loop sleeps on its doorbell: a sender that clears it rings. */
export const H_SLEEPING = 16;
/** First word of the registration table: slot i holds the live key of registration i, 0 when free. */
export const H_REG = 32;
export const REG_SLOTS = 1024;
export const HEADER_BYTES = 8192;

export const RING_CONTROL_BYTES = 192;
/** Word indices in a ring's control block. */
export const R_HEAD = 0;
export const R_TAIL = 16;
/** 1 while the producer has fragments queued for lack of room: the consumer rings it after making room. */
export const R_WAITING = 32;

/** A record's header: int32 length + 1 (0: nothing yet), int32 tag. -1 marks the end of the ring (wrap). */
export const RECORD_HEADER = 8;
export const WRAP = -1;

export function segmentBytes(size: number, fifoSize: number): number {
  return HEADER_BYTES + size * (RING_CONTROL_BYTES + fifoSize);
}

export function ringOffset(sender: number, fifoSize: number): number {
  return HEADER_BYTES + sender * (RING_CONTROL_BYTES + fifoSize);
}

/** Bytes a fragment of `bytes` takes in a ring. */
export function recordBytes(bytes: number): number {
  return (RECORD_HEADER + bytes + 7) & ~7;
}

/**
 * Set on a registration's key once a peer's put has begun copying into it (see Peer.claimForPut),
 * and left set: the owner can then no longer revoke it. Keys stay below it.
 */
export const PUT_BEGUN = 0x4000_0000;
