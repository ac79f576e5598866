import { describe, expect, it } from 'vitest';
import { MessagePool, SPARE_BYTES, SPARE_MIN } from '../src/message-pool.js';

function bytes(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7 + seed) & 0xff);
}

describe('MessagePool: messages that wait for their receive', () => {
  it('holds a copy from the given offset, and reuses a recycled buffer for the next one', () => {
    const pool = new MessagePool();
    const first = bytes(256 * 1024 + 8, 1);
    const held = pool.hold(first, 8);
    expect(held.length).toBe(256 * 1024);
    expect(Buffer.compare(held, first.subarray(8))).toBe(0);
    pool.recycle(held);
    const second = bytes(200 * 1024, 2);
    const again = pool.hold(second, 0);
    expect(again.buffer).toBe(held.buffer);
    expect(Buffer.compare(again, second)).toBe(0);
    // Not recycled: the next one is a buffer of its own.
    expect(pool.hold(second, 0).buffer).not.toBe(again.buffer);
  });

  it('never takes back what it did not hold: a small message, a slab copy, a foreign buffer', () => {
    const pool = new MessagePool();
    const small = pool.hold(bytes(SPARE_MIN - 1, 3), 0);
    const copied = pool.copy(bytes(64 * 1024, 4), 0);
    const foreign = new Uint8Array(128 * 1024);
    for (const b of [small, copied, foreign]) pool.recycle(b);
    const next = pool.hold(bytes(64 * 1024, 5), 0);
    expect([small.buffer, copied.buffer, foreign.buffer]).not.toContain(next.buffer);
  });

  it(`keeps at most ${SPARE_BYTES} bytes of spares`, () => {
    const pool = new MessagePool();
    const size = 4 * 1024 * 1024;
    const held = Array.from({ length: SPARE_BYTES / size + 2 }, (_, i) => pool.hold(new Uint8Array(size).fill(i), 0));
    for (const b of held) pool.recycle(b);
    const reused = new Set(held.map(() => pool.hold(new Uint8Array(size), 0).buffer));
    const fromBefore = [...reused].filter((b) => held.some((h) => h.buffer === b));
    expect(fromBefore.length).toBe(SPARE_BYTES / size);
  });
});
