/**
 * Progress of a long bench on stderr. On a terminal: one status line redrawn in place
 * (`latency tcp sleep 32K (6/10)`); elsewhere (a log, a pipe): one line per phase.
 */
export class ProgressDisplay {
  readonly #out: NodeJS.WritableStream;
  readonly #tty: boolean;
  #status = '';

  constructor(out: NodeJS.WritableStream & { isTTY?: boolean }) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  /** The start of a phase: a line of its own when not on a terminal. */
  phase(text: string): void {
    if (this.#tty) this.status(text);
    else this.#out.write(`switchyard bench: ${text}\n`);
  }

  /** Fine-grained progress, shown only on a terminal. */
  status(text: string): void {
    if (!this.#tty || text === this.#status) return;
    this.#status = text;
    this.#out.write(`\r\x1b[K${text}`);
  }

  /** A line of other output, kept clear of the status line. */
  log(line: string): void {
    if (this.#tty && this.#status) this.#out.write(`\r\x1b[K${line}\n${this.#status}`);
    else this.#out.write(`${line}\n`);
  }

  /** Removes the status line (before the results are printed). */
  clear(): void {
    if (this.#tty && this.#status) this.#out.write('\r\x1b[K');
    this.#status = '';
  }
}
