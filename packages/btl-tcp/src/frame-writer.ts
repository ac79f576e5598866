import type { Socket } from 'node:net';
import { Fifo, writeHeader } from '@switchyard/btl-base';
import { encodeHeader, FrameType, HEADER_SIZE, TCP_FRAMES } from './framing.js';

/**
 * Payload segments up to this size are copied next to their header; larger ones go out in place.
 * Copying a segment this size costs about a microsecond (the arena stays in cache) and keeps an
 * eager message a single plain write; a corked writev of header and payload was measured slower
 * for 32 KiB messages.
 */
export const COPY_MAX = 64 * 1024;
/** The per-connection area headers and small payloads are gathered in (reused once written). */
export const ARENA_SIZE = 512 * 1024;

/** Told, in write order, that a batch of `frames` frames has been written (or failed). */
export type BatchWritten = (frames: number, error: Error | null | undefined) => void;

/**
 * Writes DATA frames with as few socket writes as possible: each header, and every payload
 * segment of at most COPY_MAX bytes, is copied into a reusable arena, so a small frame is a
 * single contiguous piece; larger segments are written in place (no copy), between the arena
 * pieces, in one corked writev. A frame on an idle connection is written at once; frames added
 * while a write is pending are gathered and written together at the end of the tick. One
 * completion per write reports how many frames it held.
 *
 * The arena is only reused once every write that references it has completed (the socket may
 * hold a piece until the kernel takes it); while it is busy and full, frames are written without
 * copying, with headers of their own.
 */
export class FrameWriter {
  readonly #socket: Socket;
  readonly #written: BatchWritten;
  readonly #arena = Buffer.allocUnsafe(ARENA_SIZE);
  /** First free byte of the arena. */
  #tail = 0;
  /** Start of the arena piece being gathered, or -1. */
  #piece = -1;
  /** The batch being gathered: pieces and in-place segments, in order. */
  readonly #chunks: Uint8Array[] = [];
  #frames = 0;
  #scheduled = false;
  /** Frames per batch handed to the socket whose write has not completed yet. */
  readonly #writing = new Fifo<number>();
  /** The last arena piece handed out, reused when the next one spans the same bytes (ping-pong). */
  #pieceView: Buffer | undefined;

  constructor(socket: Socket, written: BatchWritten) {
    this.#socket = socket;
    this.#written = written;
  }

  /** Frames accepted and not yet handed to the socket. */
  get pendingFrames(): number {
    return this.#frames;
  }

  /**
   * Adds a DATA frame. On an idle connection (no write of ours pending) it is written at once, as
   * Open MPI's tcp BTL writes a fragment when its endpoint has nothing queued: a rank that sends
   * and then computes without yielding (an `isend` before a compute phase, a collective returning
   * to a bulk-synchronous loop) must not keep the message from its peer for as long as it
   * computes. Frames added while a write is pending gather and go out together at the end of the
   * tick, so a burst (a window of `isend`s, a tight `await send` loop) costs two writes, not one
   * per frame: per-frame writes made a loop of small sends 2.3 times slower.
   */
  add(tag: number, segments: readonly Uint8Array[], bytes: number): void {
    if (this.#frames === 0 && this.#writing.length === 0) this.#tail = 0;
    this.#frames += 1;
    this.#append(tag, segments, bytes);
    if (this.#frames === 1 && this.#writing.length === 0) {
      this.flush();
      return;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#flushTick);
    }
  }

  #append(tag: number, segments: readonly Uint8Array[], bytes: number): void {
    const arena = this.#arena;
    let at = this.#tail;
    if (at + HEADER_SIZE > arena.length) {
      this.#header(tag, bytes);
      for (const s of segments) if (s.length > 0) this.#chunks.push(s);
      return;
    }
    if (this.#piece < 0) this.#piece = at;
    writeHeader(arena, at, TCP_FRAMES, FrameType.DATA, tag, bytes);
    at += HEADER_SIZE;
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i]!;
      const n = s.length;
      if (n === 0) continue;
      if (n <= COPY_MAX && at + n <= arena.length) {
        if (this.#piece < 0) this.#piece = at;
        // A loop beats `set` for a few bytes (PML headers are 12 to 24).
        if (n <= 32) for (let j = 0; j < n; j++) arena[at + j] = s[j]!;
        else arena.set(s, at);
        at += n;
        continue;
      }
      this.#closePiece(at);
      this.#chunks.push(s);
    }
    this.#tail = at;
  }

  /** Hands the batch gathered so far to the socket now (before a control frame that must follow it). */
  flush(): void {
    this.#closePiece(this.#tail);
    const chunks = this.#chunks;
    const frames = this.#frames;
    if (chunks.length === 0) return;
    this.#frames = 0;
    const socket = this.#socket;
    // Frames not written stay with the connection, which fails them when the socket closes.
    if (!socket.destroyed && !socket.writableEnded) {
      this.#writing.push(frames);
      const last = chunks.length - 1;
      if (last === 0) {
        socket.write(chunks[0]!, this.#afterWrite);
      } else {
        socket.cork();
        for (let i = 0; i < last; i++) socket.write(chunks[i]!);
        socket.write(chunks[last]!, this.#afterWrite);
        socket.uncork();
      }
    }
    // The socket keeps the chunks, not the list (and calls back only later): reuse it.
    while (chunks.length) chunks.pop();
  }

  readonly #flushTick = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  readonly #afterWrite = (error?: Error | null): void => {
    const frames = this.#writing.shift() ?? 0;
    if (this.#writing.length === 0 && this.#frames === 0) this.#tail = 0;
    this.#written(frames, error);
  };

  /** A header of its own (the arena is busy and full). */
  #header(tag: number, bytes: number): void {
    this.#closePiece(this.#tail);
    this.#chunks.push(encodeHeader(FrameType.DATA, tag, bytes));
  }

  /** Ends the arena piece being gathered at `end` and queues it. */
  #closePiece(end: number): void {
    const start = this.#piece;
    if (start < 0) return;
    if (end > start) {
      let view = this.#pieceView;
      if (view === undefined || view.byteOffset - this.#arena.byteOffset !== start || view.length !== end - start) {
        view = this.#pieceView = this.#arena.subarray(start, end);
      }
      this.#chunks.push(view);
    }
    this.#piece = -1;
    this.#tail = end;
  }
}
