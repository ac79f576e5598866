/** Typed codes of the errors btl-sm throws, reports (host.error) and completes operations with. */
export const SmErrorCodes = Object.freeze({
  /** The native addon does not load here (not built, stale, or the kernel refuses what it needs). */
  UNAVAILABLE: 'ERR_BTL_SM_UNAVAILABLE',
  /** A send the module cannot take: a tag outside 0-255, a fragment above max_send_size, a foreign endpoint. */
  BAD_SEND: 'ERR_BTL_SM_BAD_SEND',
  /** The module was finalized or the peer deleted with the operation still queued. */
  CLOSED: 'ERR_BTL_SM_CLOSED',
  /** A get/put handle that is not one of ours, or a range outside the registered memory. */
  BAD_HANDLE: 'ERR_BTL_SM_BAD_HANDLE',
  /** The peer released the registered memory before the get/put reached it. */
  RELEASED: 'ERR_BTL_SM_RELEASED',
  /** process_vm_readv / writev failed (the peer exited, or the address is not mapped there). */
  CMA_FAILED: 'ERR_BTL_SM_CMA_FAILED',
  /** registerMemory: every registration slot is in use. */
  NO_SLOT: 'ERR_BTL_SM_NO_SLOT',
});
export type SmErrorCode = (typeof SmErrorCodes)[keyof typeof SmErrorCodes];

export class SmError extends Error {
  override readonly name = 'SmError';
  constructor(
    readonly code: SmErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
