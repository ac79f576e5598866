import { describe, expect, it } from 'vitest';
import { KeepRing, RING_FIRST, RING_MAX } from '../src/keep-ring.js';

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
}

describe('KeepRing', () => {
  it('keeps every copy intact until it is released, reusing the space released copies leave', () => {
    const ring = new KeepRing();
    const live: Array<{ view: Uint8Array; expect: Uint8Array; generation: number; end: number }> = [];
    for (let i = 0; i < 2000; i++) {
      const data = bytes(1 + ((i * 977) % 9000), i);
      const view = ring.copy(data);
      live.push({ view, expect: data, generation: ring.lastGeneration, end: ring.lastEnd });
      // Acknowledged in order, a few at a time, as a peer's cumulative acknowledgement does.
      if (i % 5 === 4) {
        for (const kept of live.splice(0, 3)) {
          expect(Buffer.from(kept.view).equals(Buffer.from(kept.expect))).toBe(true);
          ring.release(kept.generation, kept.end);
        }
      }
    }
    for (const kept of live) expect(Buffer.from(kept.view).equals(Buffer.from(kept.expect))).toBe(true);
  });

  it('reuses the same memory when copies are released as fast as they are made', () => {
    const ring = new KeepRing();
    const first = ring.copy(bytes(4096, 1));
    ring.release(ring.lastGeneration, ring.lastEnd);
    for (let i = 0; i < 1000; i++) {
      const view = ring.copy(bytes(4096, i));
      expect(view.buffer).toBe(first.buffer);
      ring.release(ring.lastGeneration, ring.lastEnd);
    }
  });

  it('grows while the peer leaves more unacknowledged, and gives a copy a buffer of its own at the maximum', () => {
    const ring = new KeepRing();
    const n = 16 * 1024;
    const views: Uint8Array[] = [];
    // Nothing released: each ring fills, then a ring of twice the size follows, up to RING_MAX.
    for (let i = 0; ring.lastGeneration !== -1 && i < (4 * RING_MAX) / n; i++) views.push(ring.copy(bytes(n, i)));
    expect(ring.lastGeneration).toBe(-1);
    expect(views[0]!.buffer.byteLength).toBe(RING_FIRST);
    expect(views.at(-2)!.buffer.byteLength).toBe(RING_MAX);
    expect(views.length).toBe((2 * RING_MAX - RING_FIRST) / n + 1);
    views.forEach((v, i) => expect(Buffer.from(v).equals(Buffer.from(bytes(n, i)))).toBe(true));
  });
});
