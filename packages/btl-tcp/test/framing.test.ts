import { describe, expect, it } from 'vitest';
import { encodeControl, encodeHeader, FrameDecoder, FrameError, FrameType, HEADER_SIZE } from '../src/index.js';

interface Got {
  type: number;
  tag: number;
  payload: Buffer;
}

function frame(tag: number, payload: Buffer): Buffer {
  return Buffer.concat([encodeHeader(FrameType.DATA, tag, payload.length), payload]);
}

function decoder(limit = 1 << 20): { d: FrameDecoder; got: Got[] } {
  const got: Got[] = [];
  const d = new FrameDecoder((type, tag, payload) => got.push({ type, tag, payload: Buffer.from(payload) }), limit);
  return { d, got };
}

/** Deterministic pseudo-random numbers, so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('FrameDecoder', () => {
  const payloads = [0, 1, 7, 8, 9, 100, 65536, 70001, 0, 3].map((n, i) => Buffer.alloc(n, i + 1));
  const stream = Buffer.concat(payloads.map((p, i) => frame(i, p)));

  it('yields every frame of one read that holds many', () => {
    const { d, got } = decoder();
    d.push(stream);
    expect(got.map((g) => g.tag)).toEqual(payloads.map((_, i) => i));
    got.forEach((g, i) => expect(g.payload.equals(payloads[i]!)).toBe(true));
  });

  it('reassembles frames split at every possible boundary (random chunking and byte by byte)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const next = rng(seed);
      const { d, got } = decoder();
      for (let at = 0; at < stream.length; ) {
        const n = 1 + Math.floor(next() * (seed === 5 ? 3 : 20000));
        d.push(stream.subarray(at, at + n));
        at += n;
      }
      expect(got.length).toBe(payloads.length);
      got.forEach((g, i) => {
        expect(g.tag).toBe(i);
        expect(g.payload.equals(payloads[i]!)).toBe(true);
      });
    }
    const { d, got } = decoder();
    const small = Buffer.concat([frame(1, Buffer.from('abc')), frame(2, Buffer.alloc(0)), frame(3, Buffer.from('z'))]);
    for (let i = 0; i < small.length; i++) d.push(small.subarray(i, i + 1));
    expect(got.map((g) => [g.tag, g.payload.toString()])).toEqual([
      [1, 'abc'],
      [2, ''],
      [3, 'z'],
    ]);
  });

  it('hands a payload that lies within one read over as a view, without copying', () => {
    const views: Uint8Array[] = [];
    const d = new FrameDecoder((_t, _g, p) => views.push(p), 1 << 20);
    const chunk = frame(9, Buffer.alloc(1000, 7));
    d.push(chunk);
    expect(views[0]!.buffer).toBe(chunk.buffer);
    expect(views[0]!.byteOffset).toBe(chunk.byteOffset + HEADER_SIZE);
  });

  it('rejects bad magic, unknown types, oversized data and control frames, and a CLOSE with a payload', () => {
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.from('GET / HTTP/1.1\r\n\r\n'), /bad magic/],
      [Buffer.from([0x53, 0x59, 42, 0, 0, 0, 0, 0]), /unknown frame type 42/],
      [encodeHeader(FrameType.DATA, 0, 1025), /exceeds the limit of 1024/],
      [encodeHeader(FrameType.RESPONSE, 0, 100_000), /handshake frame/],
      [encodeHeader(FrameType.CLOSE, 0, 3), /close frame/],
    ];
    for (const [bytes, message] of cases) {
      const { d, got } = decoder(1024);
      expect(() => d.push(bytes)).toThrow(FrameError);
      expect(() => decoder(1024).d.push(bytes)).toThrow(message);
      expect(got).toEqual([]);
    }
    // A data frame exactly at the limit is fine.
    const { d, got } = decoder(1024);
    d.push(frame(1, Buffer.alloc(1024)));
    expect(got[0]!.payload.length).toBe(1024);
  });

  it('stops delivering once halted, even within the same read', () => {
    const got: number[] = [];
    const d: FrameDecoder = new FrameDecoder((_type, tag) => {
      got.push(tag);
      if (tag === 1) d.halt();
    }, 1024);
    d.push(Buffer.concat([frame(0, Buffer.alloc(1)), frame(1, Buffer.alloc(1)), frame(2, Buffer.alloc(1))]));
    expect(got).toEqual([0, 1]);
  });

  it('encodes control frames with their payload inline', () => {
    const { d, got } = decoder();
    d.push(encodeControl(FrameType.CLOSE));
    d.push(encodeControl(FrameType.CHALLENGE, Buffer.from('{}')));
    expect(got.map((g) => [g.type, g.payload.toString()])).toEqual([
      [FrameType.CLOSE, ''],
      [FrameType.CHALLENGE, '{}'],
    ]);
  });
});
