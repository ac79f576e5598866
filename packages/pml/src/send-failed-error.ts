/**
 * A send whose transport failed under it while failover is off (`pml_failover false`): nothing
 * keeps the fragment to send it again, so the operation fails, naming the peer, the transport and
 * its error. With failover on, such a fault is repaired, or ends as the BML's PeerLostError.
 */
export class SendFailedError extends Error {
  override readonly name = 'SendFailedError';
  readonly code = 'ERR_SWITCHYARD_SEND_FAILED';

  constructor(
    readonly peer: number,
    readonly btl: string,
    cause: Error,
  ) {
    super(`sending to rank ${peer} over ${btl} failed: ${cause.message} (pml_failover is off: nothing is sent again)`, { cause });
  }
}
