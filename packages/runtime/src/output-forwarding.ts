import type { Readable } from 'node:stream';

/**
 * One per launcher output (stdout or stderr): many rank pipes write into it. When it is full,
 * the pipes that wrote are paused until it drains, with one 'drain' listener however many ranks.
 * When it breaks (the reader of a pipe went away: `switchyard run ... | head`), later output is
 * dropped and `onBroken` is told once, as a shell pipeline's writer would get SIGPIPE.
 */
export class SharedOutput {
  readonly #out: NodeJS.WritableStream;
  readonly #paused = new Set<Readable>();
  #waiting = false;
  #broken = false;
  readonly #onError: (error: NodeJS.ErrnoException) => void;

  constructor(out: NodeJS.WritableStream, onBroken?: (error: NodeJS.ErrnoException) => void) {
    this.#out = out;
    this.#onError = (error) => {
      if (this.#broken) return;
      this.#broken = true;
      for (const source of this.#paused) source.resume();
      this.#paused.clear();
      onBroken?.(error);
    };
    out.on('error', this.#onError);
  }

  /** Stops watching the output (the job is over; the stream may serve the next one). */
  detach(): void {
    this.#out.removeListener('error', this.#onError);
  }

  write(data: Buffer, from: Readable): void {
    if (this.#broken) return;
    if (this.#out.write(data)) return;
    this.#paused.add(from);
    from.pause();
    if (this.#waiting) return;
    this.#waiting = true;
    this.#out.once('drain', () => {
      this.#waiting = false;
      for (const source of this.#paused) source.resume();
      this.#paused.clear();
    });
  }
}

const NEWLINE = 0x0a;
/**
 * A "line" that grows past this without a newline (a progress bar redrawn with \r) is written
 * out as it is, so a rank cannot make the launcher buffer without bound.
 */
const MAX_PENDING_LINE_BYTES = 64 * 1024;

/**
 * Copies a rank's pipe to a shared output a whole line at a time, so lines of different ranks
 * never interleave mid-line, each optionally prefixed (`[2] `). A last line without a newline
 * is written when the pipe ends.
 */
export function forwardLines(source: Readable, output: SharedOutput, prefix: string | null): void {
  const tag = prefix === null ? null : Buffer.from(prefix, 'utf8');
  let partial: Buffer[] = [];
  let pending = 0;

  const emit = (line: Buffer) => output.write(tag ? Buffer.concat([tag, line]) : line, source);

  source.on('data', (chunk: Buffer) => {
    let start = 0;
    let newline = chunk.indexOf(NEWLINE, start);
    while (newline !== -1) {
      const piece = chunk.subarray(start, newline + 1);
      emit(partial.length ? Buffer.concat([...partial, piece]) : piece);
      partial = [];
      pending = 0;
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) {
      partial.push(chunk.subarray(start));
      pending += chunk.length - start;
    }
    if (pending > MAX_PENDING_LINE_BYTES) {
      emit(Buffer.concat(partial));
      partial = [];
      pending = 0;
    }
  });
  source.on('end', () => {
    if (!partial.length) return;
    const rest = Buffer.concat(partial);
    partial = [];
    // A tagged line must end so the next rank's tag starts a line; untagged output stays as sent.
    emit(tag ? Buffer.concat([rest, Buffer.from('\n')]) : rest);
  });
}
