/** The launcher could not start a job (bad options, no private directory, socket path too long). */
export class LaunchError extends Error {
  override readonly name = 'LaunchError';
  readonly code = 'ERR_SWITCHYARD_LAUNCH';
}

/** A rank could not join its job: no launcher at the URI, a rejected hello, a lost connection. */
export class WireUpError extends Error {
  override readonly name = 'WireUpError';
  readonly code = 'ERR_SWITCHYARD_WIREUP';
}

/**
 * A control request did not get an answer from every rank it went to. `failures` says why for
 * each rank that failed; `replies` holds the answers that did come, so a caller can roll back.
 */
export class RequestError extends Error {
  override readonly name = 'RequestError';
  readonly code = 'ERR_SWITCHYARD_REQUEST';
  constructor(
    readonly failures: ReadonlyMap<number, string>,
    readonly replies: ReadonlyMap<number, unknown>,
    message = describeFailures(failures),
  ) {
    super(message);
  }
}

function describeFailures(failures: ReadonlyMap<number, string>): string {
  const parts = [...failures].sort(([a], [b]) => a - b).map(([rank, why]) => `rank ${rank} ${why}`);
  return `control request failed: ${parts.join('; ')}`;
}
