/**
 * The order in which sends to one peer completed, and how. After a send to a peer whose module is
 * gone completed with an error (the module saw the link fail), a later one that completes without
 * an error cannot have arrived: nothing listens there, and the module knows its link failed. The
 * PML takes such a fragment as delivered and never sends it again. One that completed without an
 * error before any failure may have been taken by the kernel when the link broke (a TCP reset
 * drops what it had accepted), which the BML's replay after the loss report covers.
 */
export class CompletionOrder {
  readonly #completed: Array<{ seq: number; failed: boolean }> = [];

  /** Notes the first completion of fragment `seq`. */
  note(seq: number, error?: Error): void {
    this.#completed.push({ seq, failed: error !== undefined });
  }

  /** Fragments that completed as sent after one had failed, with the first that failed; undefined if none. */
  asSentAfterFailure(): { failed: number; asSent: number[] } | undefined {
    const first = this.#completed.findIndex((c) => c.failed);
    if (first < 0) return undefined;
    const asSent = this.#completed.slice(first + 1).filter((c) => !c.failed).map((c) => c.seq);
    return asSent.length ? { failed: this.#completed[first]!.seq, asSent } : undefined;
  }
}
