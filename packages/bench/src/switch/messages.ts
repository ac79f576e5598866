/**
 * The numbered messages of the switch bench and their checks. A message is a 16-byte header
 * (index, source, destination, total length, little-endian u32) and a body cut from a
 * deterministic pattern at an offset that depends on (source, destination, index), so a message
 * delivered to the wrong rank, twice, out of order or damaged shows. Checking is a header read
 * and one memcmp: cheap enough to leave the CPU to the traffic.
 */
import type { Integrity, TrafficShape } from './plan.js';

export const HEADER_BYTES = 16;
const PATTERN_SLACK = 64 * 1024;
/** A peer is never more than a round ahead: an index this far ahead is damage, not loss. */
const MAX_SKIP = 1_000_000;

/** The byte pattern bodies are cut from (the same on every rank). */
export function makePattern(traffic: TrafficShape): Buffer {
  const bytes = Math.max(traffic.rndvSize, traffic.smallMax) + PATTERN_SLACK;
  const b = Buffer.allocUnsafe(bytes);
  let x = 0x9e3779b9;
  for (let i = 0; i < bytes; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Total size, header included, of message `index` from `source` to `dest`. */
export function messageSize(traffic: TrafficShape, source: number, dest: number, index: number): number {
  if (index % traffic.rndvEvery === traffic.rndvEvery - 1) return traffic.rndvSize;
  const span = traffic.smallMax - traffic.smallMin + 1;
  return traffic.smallMin + ((index * 131 + source * 17 + dest * 7) % span);
}

function bodyOffset(source: number, dest: number, index: number): number {
  return (source * 7919 + dest * 104_729 + index * 131) % PATTERN_SLACK;
}

export function encodeMessage(pattern: Buffer, traffic: TrafficShape, source: number, dest: number, index: number): Buffer {
  const size = messageSize(traffic, source, dest, index);
  const m = Buffer.allocUnsafe(size);
  m.writeUInt32LE(index, 0);
  m.writeUInt32LE(source, 4);
  m.writeUInt32LE(dest, 8);
  m.writeUInt32LE(size, 12);
  const off = bodyOffset(source, dest, index);
  pattern.copy(m, HEADER_BYTES, off, off + size - HEADER_BYTES);
  return m;
}

/**
 * One rank's checks of what it receives, per source: the next expected index, indices skipped
 * (lost, unless they turn up late: then reordered), duplicates and damaged messages.
 */
export class FlowChecker {
  readonly #pattern: Buffer;
  readonly #traffic: TrafficShape;
  readonly #rank: number;
  readonly #next: number[];
  readonly #skipped: Array<Set<number>>;
  #duplicates = 0;
  #reordered = 0;
  #corrupt = 0;

  constructor(pattern: Buffer, traffic: TrafficShape, rank: number, size: number) {
    this.#pattern = pattern;
    this.#traffic = traffic;
    this.#rank = rank;
    this.#next = new Array<number>(size).fill(0);
    this.#skipped = Array.from({ length: size }, () => new Set<number>());
  }

  /** Checks a message that came from `source`; returns false when anything is wrong with it. */
  accept(data: Uint8Array, source: number): boolean {
    const m = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (m.length < HEADER_BYTES) {
      this.#corrupt++;
      return false;
    }
    const index = m.readUInt32LE(0);
    const next = this.#next[source]!;
    if (index > next + MAX_SKIP) {
      this.#corrupt++;
      return false;
    }
    let ok = true;
    if (index === next) {
      this.#next[source] = next + 1;
    } else if (index > next) {
      // Everything between was skipped: lost, unless it arrives later (then reordered).
      const skipped = this.#skipped[source]!;
      for (let i = next; i < index; i++) skipped.add(i);
      this.#next[source] = index + 1;
      ok = false;
    } else if (this.#skipped[source]!.delete(index)) {
      this.#reordered++;
      ok = false;
    } else {
      this.#duplicates++;
      ok = false;
    }
    const size = messageSize(this.#traffic, source, this.#rank, index);
    const off = bodyOffset(source, this.#rank, index);
    if (
      m.readUInt32LE(4) !== source ||
      m.readUInt32LE(8) !== this.#rank ||
      m.readUInt32LE(12) !== size ||
      m.length !== size ||
      this.#pattern.compare(m, HEADER_BYTES, size, off, off + size - HEADER_BYTES) !== 0
    ) {
      this.#corrupt++;
      ok = false;
    }
    return ok;
  }

  integrity(): Integrity {
    const lost = this.#skipped.reduce((n, s) => n + s.size, 0);
    // A skip that was reordered back in counts once, as reordered; a skip never seen is lost.
    return { lost, duplicates: this.#duplicates, reordered: this.#reordered, corrupt: this.#corrupt };
  }
}
