import { describe, expect, it } from 'vitest';
import { ringOffset, segmentBytes } from '../src/layout.js';
import { loadNative } from '../src/native.js';
import { Ring } from '../src/ring.js';

const FIFO = 64 * 1024;
const addon = loadNative();

describe("the addon's plain view of a segment", () => {
  it('is the same memory as the shared one, and rings copy through it whatever the alignment', () => {
    const { buffer, fd } = addon.createSegment(`/switchyard-sm-test-${process.pid}`, segmentBytes(2, FIFO));
    try {
      const plain = addon.plainBuffer(buffer);
      expect(plain).toBeInstanceOf(ArrayBuffer);
      expect(plain.byteLength).toBe(buffer.byteLength);
      new Uint8Array(plain)[100] = 0x5a;
      expect(new Uint8Array(buffer)[100]).toBe(0x5a);

      // A producer writing through the plain view and a consumer reading through the shared one
      // (and the other way round) see the same records: a 20-byte header puts the payload off
      // 8-byte alignment, the case V8 copies byte by byte in a SharedArrayBuffer.
      const header = Uint8Array.from({ length: 20 }, (_, i) => i);
      const payload = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7) & 0xff);
      for (const [producerBytes, consumerBytes] of [[plain, buffer], [buffer, plain]] as const) {
        const producer = new Ring(buffer, producerBytes, ringOffset(1, FIFO), FIFO);
        const consumer = new Ring(buffer, consumerBytes, ringOffset(1, FIFO), FIFO);
        expect(producer.write(3, [header, payload], header.length + payload.length)).toBe(true);
        const got: Uint8Array[] = [];
        consumer.drain((tag, data) => {
          expect(tag).toBe(3);
          // What the PML copies out of is a view of the buffer the ring reads through.
          expect(data.buffer).toBe(consumerBytes);
          got.push(data.slice());
        });
        expect(got).toHaveLength(1);
        expect(got[0]!.subarray(0, 20)).toEqual(header);
        expect(got[0]!.subarray(20)).toEqual(payload);
      }

      // Released, the segment's pages go; a view still held reads zeros instead of faulting.
      addon.releaseSegment(buffer);
      expect(new Uint8Array(plain)[100]).toBe(0);
    } finally {
      addon.closeFd(fd);
    }
  });
});
