import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ARENA_SIZE, COPY_MAX } from '../src/frame-writer.js';
import { FrameDecoder, FrameType, HEADER_SIZE } from '../src/index.js';
import { FrameWriter } from '../src/frame-writer.js';

/**
 * A socket that keeps what it is given until the test says the kernel took it (`complete`), as a
 * socket with a full send buffer does: the bytes must stay as they were until then.
 */
class HeldSocket {
  destroyed = false;
  writableEnded = false;
  corked = 0;
  /** Writes in order: their chunks, a snapshot of the bytes at write time, and the callback. */
  readonly writes: Array<{ chunks: Uint8Array[]; bytes: Buffer; cb: (err?: Error | null) => void }> = [];
  #pending: Uint8Array[] = [];

  cork(): void {
    this.corked++;
  }
  uncork(): void {
    this.corked--;
  }
  write(chunk: Uint8Array, cb?: (err?: Error | null) => void): boolean {
    this.#pending.push(chunk);
    if (cb) {
      const chunks = this.#pending;
      this.#pending = [];
      this.writes.push({ chunks, bytes: Buffer.concat(chunks), cb });
    }
    return true;
  }
  /** The kernel took the oldest write: check its bytes did not change meanwhile, then call back. */
  complete(): Buffer {
    const w = this.writes.shift()!;
    expect(Buffer.concat(w.chunks).equals(w.bytes)).toBe(true);
    w.cb();
    return w.bytes;
  }
}

function setup() {
  const socket = new HeldSocket();
  const batches: number[] = [];
  const writer = new FrameWriter(socket as unknown as Socket, (frames, err) => {
    if (err) throw err;
    batches.push(frames);
  });
  return { socket, writer, batches };
}

function decode(bytes: Buffer): Array<{ tag: number; payload: Buffer }> {
  const out: Array<{ tag: number; payload: Buffer }> = [];
  new FrameDecoder((type, tag, payload) => {
    expect(type).toBe(FrameType.DATA);
    out.push({ tag, payload: Buffer.from(payload) });
  }, 1 << 30).push(bytes);
  return out;
}

const tick = () => new Promise<void>((r) => process.nextTick(r));

describe('FrameWriter', () => {
  it('writes a frame on an idle connection at once, as one piece: header and small segments copied together', () => {
    const { socket, writer } = setup();
    const head = Buffer.from([1, 2, 3]);
    const body = Buffer.from('payload');
    writer.add(0x40, [head, Buffer.alloc(0), body], head.length + body.length);
    expect(socket.writes).toHaveLength(1);
    expect(socket.writes[0]!.chunks).toHaveLength(1);
    expect(socket.writes[0]!.chunks[0]!.length).toBe(HEADER_SIZE + 10);
    expect(decode(socket.complete())).toEqual([{ tag: 0x40, payload: Buffer.concat([head, body]) }]);
  });

  it('a burst: its first frame goes at once (its sender may compute next), the rest together at the tick\'s end', async () => {
    const { socket, writer, batches } = setup();
    for (let i = 1; i <= 4; i++) writer.add(i, [Buffer.from([i])], 1);
    expect(socket.writes).toHaveLength(1);
    // The continuation of a caller that awaited a send completed at once gathers with the burst.
    await Promise.resolve();
    expect(socket.writes).toHaveLength(1);
    await tick();
    expect(socket.writes).toHaveLength(2);
    expect(decode(socket.complete()).map((f) => f.tag)).toEqual([1]);
    expect(decode(socket.complete()).map((f) => f.tag)).toEqual([2, 3, 4]);
    expect(batches).toEqual([1, 3]);
    // Idle again: the next frame goes at once.
    writer.add(5, [Buffer.from([5])], 1);
    expect(socket.writes).toHaveLength(1);
  });

  it('gathers the frames of a tick into one write, also while a write is pending, and completes per write', async () => {
    const { socket, writer, batches } = setup();
    writer.add(1, [Buffer.from('a')], 1);
    await tick();
    for (let i = 2; i <= 5; i++) writer.add(i, [Buffer.from([i])], 1);
    expect(socket.writes).toHaveLength(1);
    await tick();
    expect(socket.writes).toHaveLength(2);
    expect(socket.writes[1]!.chunks).toHaveLength(1);
    expect(decode(socket.complete()).map((f) => f.tag)).toEqual([1]);
    expect(decode(socket.complete()).map((f) => f.tag)).toEqual([2, 3, 4, 5]);
    expect(batches).toEqual([1, 4]);
  });

  it('writes large segments in place, between arena pieces, in one corked write', async () => {
    const { socket, writer } = setup();
    writer.add(9, [Buffer.from('x')], 1);
    await tick();
    const big = Buffer.alloc(COPY_MAX + 1, 7);
    const head = Buffer.from('head');
    writer.add(10, [head, big, Buffer.from('tail')], head.length + big.length + 4);
    writer.add(11, [Buffer.from('after')], 5);
    await tick();
    const w = socket.writes[1]!;
    expect(w.chunks).toHaveLength(3);
    expect(w.chunks[1]).toBe(big);
    expect(socket.corked).toBe(0);
    socket.complete();
    expect(decode(socket.complete())).toEqual([
      { tag: 10, payload: Buffer.concat([head, big, Buffer.from('tail')]) },
      { tag: 11, payload: Buffer.from('after') },
    ]);
  });

  it('never reuses arena bytes a pending write still holds; falls back to writing in place when the arena is full', async () => {
    const { socket, writer, batches } = setup();
    // Writes that do not complete fill the arena; every frame must still go out intact, and
    // HeldSocket checks at completion that no byte of a pending write changed.
    const n = Math.ceil(ARENA_SIZE / (COPY_MAX + HEADER_SIZE)) + 10;
    const segs = Array.from({ length: n }, (_, i) => Buffer.alloc(COPY_MAX, i & 0xff));
    for (let i = 0; i < n; i++) {
      writer.add(i & 0xff, [segs[i]!], COPY_MAX);
      await tick();
    }
    const arenaStart = socket.writes[0]!.chunks[0]!.byteOffset;
    const inPlace = socket.writes.flatMap((w) => w.chunks).filter((c) => (segs as Uint8Array[]).includes(c)).length;
    expect(inPlace).toBeGreaterThan(0);
    expect(inPlace).toBeLessThanOrEqual(11);
    const frames = [];
    while (socket.writes.length) frames.push(...decode(socket.complete()));
    expect(frames).toHaveLength(n);
    frames.forEach((f, i) => expect(f.payload.equals(segs[i]!), `frame ${i}`).toBe(true));
    expect(batches.reduce((a, b) => a + b, 0)).toBe(n);
    // Once everything completed, the arena is used from its start again.
    writer.add(1, [Buffer.from('again')], 5);
    await tick();
    expect(socket.writes[0]!.chunks[0]!.byteOffset).toBe(arenaStart);
    expect(decode(socket.complete())).toEqual([{ tag: 1, payload: Buffer.from('again') }]);
  });

  it('leaves frames to the connection when the socket is gone', async () => {
    const { socket, writer, batches } = setup();
    socket.destroyed = true;
    writer.add(1, [Buffer.from('lost')], 4);
    await tick();
    expect(socket.writes).toHaveLength(0);
    expect(batches).toEqual([]);
    expect(writer.pendingFrames).toBe(0);
  });
});
