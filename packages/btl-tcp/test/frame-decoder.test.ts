import { describe, expect, it } from 'vitest';
import { encodeHeader, FrameDecoder, FrameError, FrameType, HEADER_SIZE } from '../src/index.js';

/**
 * The decoder's `onread` path, driven the way a socket drives it: ask for the read target, put
 * at most that many bytes of the stream in it, report how many. Byte streams are cut at every
 * boundary, packed many frames to a read, and made of frames far larger than a read.
 */

interface Got {
  tag: number;
  payload: Buffer;
  /** The delivered view itself (valid only during the call): to check where it points. */
  view: Buffer;
}

function frame(tag: number, payload: Buffer): Buffer {
  return Buffer.concat([encodeHeader(FrameType.DATA, tag, payload.length), payload]);
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed * 17 + (i >> 8)) & 0xff;
  return b;
}

/** Deterministic pseudo-random numbers, so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function reader(limit = 8 << 20) {
  const got: Got[] = [];
  const errors: Error[] = [];
  const d = new FrameDecoder(
    (_type, tag, payload) => got.push({ tag, payload: Buffer.from(payload), view: payload }),
    limit,
    (e) => errors.push(e),
  );
  const onread = d.onread as { buffer: () => Uint8Array; callback: (n: number, b: Uint8Array) => boolean };
  let target = onread.buffer();
  const targets: Uint8Array[] = [];
  /** One socket read of at most `max` bytes of `bytes` from `at`; returns how many it took. */
  const read = (bytes: Buffer, at: number, max: number): number => {
    const n = Math.min(max, target.length, bytes.length - at);
    target.set(bytes.subarray(at, at + n));
    targets.push(target);
    onread.callback(n, target);
    target = onread.buffer();
    return n;
  };
  /** Feeds the whole stream, each read at most `chunk()` bytes. */
  const feed = (bytes: Buffer, chunk: () => number) => {
    for (let at = 0; at < bytes.length; ) at += read(bytes, at, Math.max(1, chunk()));
  };
  return { d, got, errors, read, feed, targets, target: () => target };
}

function expectFrames(got: Got[], payloads: Buffer[]) {
  expect(got.length).toBe(payloads.length);
  got.forEach((g, i) => {
    expect(g.tag).toBe(i & 0xff);
    expect(g.payload.length).toBe(payloads[i]!.length);
    expect(g.payload.equals(payloads[i]!)).toBe(true);
  });
}

describe('FrameDecoder, read into by the socket (onread)', () => {
  const sizes = [0, 1, 7, 8, 9, 100, 4095, 16 * 1024, 65536, 70001, 0, 3, 300_000];
  const payloads = sizes.map((n, i) => pattern(n, i));
  const stream = Buffer.concat(payloads.map((p, i) => frame(i, p)));

  it('yields every frame of a read that holds many, as views into its one receive buffer', () => {
    const small = payloads.slice(0, 6);
    const r = reader();
    r.feed(Buffer.concat(small.map((p, i) => frame(i, p))), () => 1 << 30);
    expect(r.targets).toHaveLength(1);
    expectFrames(r.got, small);
    for (const g of r.got) expect(g.view.buffer).toBe(r.targets[0]!.buffer);
  });

  it('cuts a stream of two frames at every byte boundary', () => {
    const a = pattern(300, 1);
    const b = pattern(20, 2);
    const bytes = Buffer.concat([frame(0, a), frame(1, b)]);
    for (let cut = 1; cut < bytes.length; cut++) {
      const r = reader();
      r.read(bytes, 0, cut);
      r.feed(bytes.subarray(cut), () => 1 << 30);
      expectFrames(r.got, [a, b]);
    }
  });

  it('reassembles any stream fed a byte at a time, or in random reads', () => {
    const r1 = reader();
    const head = Buffer.concat(payloads.slice(0, 8).map((p, i) => frame(i, p)));
    r1.feed(head, () => 1);
    expectFrames(r1.got, payloads.slice(0, 8));
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const next = rng(seed);
      const r = reader();
      r.feed(stream, () => 1 + Math.floor(next() * (seed % 2 ? 40_000 : 300)));
      expectFrames(r.got, payloads);
      expect(r.errors).toEqual([]);
    }
  });

  it('reads the rest of a frame larger than a read straight into its place, without gathering copies', () => {
    const big = pattern(3 * 1024 * 1024 + 5, 9);
    const bytes = Buffer.concat([frame(0, big), frame(1, pattern(10, 1))]);
    const r = reader();
    // The first read stops inside the frame; every later target is the frame's own place.
    const first = r.read(bytes, 0, 1 << 30);
    expect(first).toBeLessThan(bytes.length);
    const rest = r.target();
    expect(rest.length).toBeGreaterThanOrEqual(HEADER_SIZE + big.length - first);
    r.feed(bytes.subarray(first), () => 1 << 30);
    expectFrames(r.got, [big, pattern(10, 1)]);
    expect(r.got[0]!.view.buffer).toBe(rest.buffer);
    expect(r.got[0]!.view.byteOffset).toBe(rest.byteOffset - first + HEADER_SIZE);
  });

  it('keeps one receive buffer for a long stream of split frames: no allocation per frame', () => {
    const r = reader();
    const next = rng(42);
    const frames = Array.from({ length: 400 }, (_, i) => pattern(Math.floor(next() * 200_000), i));
    const bytes = Buffer.concat(frames.map((p, i) => frame(i, p)));
    r.feed(bytes.subarray(0, bytes.length >> 1), () => 1 + Math.floor(next() * 70_000));
    const capacity = r.d.capacity;
    const buffer = r.target().buffer;
    r.feed(bytes.subarray(bytes.length >> 1), () => 1 + Math.floor(next() * 70_000));
    expectFrames(r.got, frames);
    expect(r.d.capacity).toBe(capacity);
    expect(r.target().buffer).toBe(buffer);
    // About twice the largest frame, plus a read: not a buffer per frame.
    expect(capacity).toBeLessThan(2 * 200_000 + 256 * 1024);
  });

  it('reports a malformed header to onError instead of throwing from the socket callback, and stops', () => {
    const r = reader(1024);
    const bytes = Buffer.concat([frame(0, pattern(5, 0)), encodeHeader(FrameType.DATA, 1, 1025), frame(2, pattern(5, 2))]);
    expect(() => r.feed(bytes, () => 1 << 30)).not.toThrow();
    expect(r.got.map((g) => g.tag)).toEqual([0]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toBeInstanceOf(FrameError);
    expect(r.errors[0]!.message).toMatch(/exceeds the limit of 1024/);
    // Nothing is delivered after that, whatever the socket still reads.
    r.feed(frame(3, pattern(5, 3)), () => 1 << 30);
    expect(r.got).toHaveLength(1);
  });

  it('stops delivering once halted, even within the same read', () => {
    const tags: number[] = [];
    const d: FrameDecoder = new FrameDecoder((_type, tag) => {
      tags.push(tag);
      if (tag === 1) d.halt();
    }, 1024);
    const onread = d.onread as { buffer: () => Uint8Array; callback: (n: number, b: Uint8Array) => boolean };
    const target = onread.buffer();
    const bytes = Buffer.concat([frame(0, pattern(1, 0)), frame(1, pattern(1, 1)), frame(2, pattern(1, 2))]);
    target.set(bytes);
    onread.callback(bytes.length, target);
    expect(tags).toEqual([0, 1]);
    expect(onread.buffer().length).toBeGreaterThan(0);
  });
});

describe('FrameDecoder, fed chunks (push)', () => {
  it('gathers split frames in its one reusable buffer, not a fresh one per frame', () => {
    const views: Uint8Array[] = [];
    const d = new FrameDecoder((_t, _g, p) => views.push(p), 1 << 20);
    for (let i = 0; i < 3; i++) {
      const bytes = frame(i, pattern(50_000, i));
      d.push(bytes.subarray(0, 1000));
      d.push(bytes.subarray(1000));
    }
    expect(views).toHaveLength(3);
    expect(views[1]!.buffer).toBe(views[0]!.buffer);
    expect(views[2]!.buffer).toBe(views[0]!.buffer);
  });
});
