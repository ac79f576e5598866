import { describe, expect, it } from 'vitest';
import { ringOffset, segmentBytes } from '../src/layout.js';
import { Ring } from '../src/ring.js';

const FIFO = 1024;

function pair(): { producer: Ring; consumer: Ring } {
  // Two views of one buffer, as two processes have of one segment (its bytes copied through the
  // shared buffer itself: the addon's plain view of it is tested with the module).
  const buffer = new SharedArrayBuffer(segmentBytes(2, FIFO));
  return {
    producer: new Ring(buffer, buffer, ringOffset(1, FIFO), FIFO),
    consumer: new Ring(buffer, buffer, ringOffset(1, FIFO), FIFO),
  };
}

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (seed + i) & 0xff);

function drainAll(ring: Ring): Array<{ tag: number; data: number[] }> {
  const out: Array<{ tag: number; data: number[] }> = [];
  ring.drain((tag, data) => out.push({ tag, data: [...data] }));
  return out;
}

describe('Ring', () => {
  it('delivers records whole and in order, the segments of one send concatenated, zero-length included', () => {
    const { producer, consumer } = pair();
    expect(producer.write(7, [bytes(3, 1), bytes(2, 9)], 5)).toBe(true);
    expect(producer.write(8, [], 0)).toBe(true);
    expect(consumer.pending).toBe(true);
    expect(drainAll(consumer)).toEqual([
      { tag: 7, data: [1, 2, 3, 9, 10] },
      { tag: 8, data: [] },
    ]);
    expect(consumer.pending).toBe(false);
  });

  it('refuses what does not fit, takes it once room is made, and wraps without splitting a record', () => {
    const { producer, consumer } = pair();
    const sent: number[] = [];
    const got: number[] = [];
    let seq = 0;
    // Records of 300 bytes (312 in the ring) never land evenly on a 1 KiB ring: every lap wraps.
    for (let round = 0; round < 50; round++) {
      while (producer.write(seq & 0xff, [bytes(300, seq)], 300)) sent.push(seq++);
      expect(sent.length).toBeGreaterThan(got.length);
      consumer.drain((tag, data) => {
        expect(data.length).toBe(300);
        expect(data[0]).toBe(tag);
        got.push(tag);
      });
    }
    expect(got).toEqual(sent.map((s) => s & 0xff));
    expect(seq).toBeGreaterThan(100);
  });

  it('frees a record even when the receiver throws, and tells the consumer once that the producer waits', () => {
    const { producer, consumer } = pair();
    producer.write(1, [bytes(10, 0)], 10);
    expect(() =>
      consumer.drain(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(consumer.pending).toBe(false);
    producer.setWaiting();
    expect(consumer.takeWaiting()).toBe(true);
    expect(consumer.takeWaiting()).toBe(false);
  });
});
