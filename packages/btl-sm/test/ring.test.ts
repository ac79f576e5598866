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

  it('never takes stale bytes of an earlier lap for a record: sizes that land anywhere, payloads that look like headers', () => {
    const { producer, consumer } = pair();
    // Payload words of 0x7f7f7f7f would read as a huge length, and -1 as a wrap marker.
    const fill = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i < 4 ? seed & 0xff : i % 8 < 4 ? 0x7f : 0xff));
    const sent: Array<{ tag: number; n: number }> = [];
    const got: Array<{ tag: number; n: number }> = [];
    let seq = 0;
    let rng = 12345;
    const random = (m: number) => ((rng = (rng * 1103515245 + 12345) & 0x7fffffff) % m);
    for (let round = 0; round < 400; round++) {
      for (let k = random(4); k >= 0; k--) {
        const n = random(200);
        if (!producer.write(seq & 0xff, [fill(n, seq)], n)) break;
        sent.push({ tag: seq & 0xff, n });
        seq += 1;
      }
      consumer.drain((tag, data) => {
        if (data.length >= 4) expect(data[0]).toBe(tag);
        got.push({ tag, n: data.length });
      });
      expect(consumer.pending).toBe(false);
    }
    expect(got).toEqual(sent);
    expect(seq).toBeGreaterThan(300);
  });
});
