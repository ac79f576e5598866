import type { BmlBtl, BtlRegistration } from '@switchyard/core-bml';

/**
 * An RGET pulled by both processes: the receiver gets the first part while the sender puts the
 * rest into the receiver's registered buffer (a PUT request, answered by a FIN). A single copy
 * through CMA is bound by the kernel's work per page, not by memory, so two processes copying
 * halves at once take about half the time of one copying it all.
 *
 * The receiver does not depend on the sender for it: a sender busy computing does not answer,
 * so once its own half is in, the receiver waits a little for the put to begin, then revokes
 * the registration (which fails only if the put has begun) and gets the rest itself.
 */
export class SplitPull {
  #left = 2;
  #failure: string | undefined;
  /** The receiver took the second half back: the sender's FIN, if one comes, is ignored. */
  takenBack = false;
  /** Waits for the put to begin before the receiver takes the half back. */
  timer: NodeJS.Timeout | undefined;

  constructor(
    /** The sender's request the final ACK names. */
    readonly sendReq: number,
    /** The receive buffer's registration the sender puts into. */
    readonly registration: BtlRegistration,
    /** The bytes the receiver gets itself; the sender puts the rest. */
    readonly head: number,
    /** The link the receiver gets with, and the sender's registration it reads from. */
    readonly btl: BmlBtl,
    readonly source: unknown,
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
