/**
 * An RGET pulled by both processes: the receiver gets the first part while the sender puts the
 * rest into the receiver's registered buffer (a PUT request, answered by a FIN). A single copy
 * through CMA is bound by the kernel's work per page, not by memory, so two processes copying
 * halves at once take about half the time of one copying it all.
 */
export class SplitPull {
  #left = 2;
  #failure: string | undefined;

  constructor(
    /** The sender's request the final ACK names. */
    readonly sendReq: number,
    /** Lets the receive buffer's registration go (the sender put into it); once both parts are done. */
    readonly release: () => void,
    /** The bytes the receiver gets itself; the sender puts the rest. */
    readonly head: number,
  ) {}

  /** One part finished (`failure` says why it could not be done); true once both have. */
  settle(failure?: string): boolean {
    this.#failure ??= failure;
    return --this.#left === 0;
  }

  /** Why a part could not be done, if one could not: then the receiver asks for fragments. */
  get failure(): string | undefined {
    return this.#failure;
  }
}
