import type { BmlBtl } from '@switchyard/core-bml';
import type { CachedRegistration, RegistrationCache } from './registration-cache.js';
import { Request } from './request.js';

/**
 * A message being sent. `offset` is how far fragments have been issued; the request completes
 * when everything is issued and every fragment's completion ran (the caller may reuse `data`).
 */
export class SendRequest extends Request<void> {
  /** Bytes handed to modules so far. */
  offset = 0;
  /** Fragments issued whose completion has not run. */
  outstanding = 0;
  /** Rendezvous fragments the receiver has not acknowledged yet (failover sends them again). */
  unacked = 0;
  /** RNDV sent, waiting for the receiver's ACK. */
  awaitingAck = false;
  /** The receiver's request id, from its ACK. */
  recvReq = -1;
  /** Bytes of this message per module, for weighted striping (made by the first data fragment). */
  sentByBtl: Map<BmlBtl, number> | undefined;

  /** RGET: the registration of `data` the receiver reads from, until its ACK. */
  registration: CachedRegistration | undefined;

  /** The receiver is done reading (or will not read): the cache may let the registration go. */
  releaseRegistration(cache: RegistrationCache): void {
    if (!this.registration) return;
    cache.release(this.registration);
    this.registration = undefined;
  }

  constructor(
    readonly id: number,
    readonly data: Uint8Array,
    readonly dest: number,
    readonly ctx: number,
    readonly tag: number,
    readonly seq: number,
  ) {
    super();
  }

  get headerSent(): boolean {
    return this.offset > 0 || this.awaitingAck || this.recvReq >= 0 || this.issuedAll;
  }

  issuedAll = false;

  /** Call after each completion, acknowledgement, and after issuing the last fragment. */
  settle(): void {
    if (this.issuedAll && this.outstanding === 0 && this.unacked === 0) this.complete();
  }
}
