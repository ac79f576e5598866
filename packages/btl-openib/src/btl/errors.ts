/** Typed codes of the errors btl-openib reports (host.error) and completes operations with. */
export const OpenibErrorCodes = Object.freeze({
  /** The device failed or was reset (DEVICE_FATAL, calls failing with EIO): the module is unusable. */
  DEVICE_FAILED: 'ERR_BTL_OPENIB_DEVICE_FAILED',
  /** The module's port went down (PORT_ERR, or found not ACTIVE): the module is unusable. */
  PORT_DOWN: 'ERR_BTL_OPENIB_PORT_DOWN',
  /** The queue pair to one peer failed (its completion status says why): that endpoint is lost. */
  LINK_FAILED: 'ERR_BTL_OPENIB_LINK_FAILED',
});
export type OpenibErrorCode = (typeof OpenibErrorCodes)[keyof typeof OpenibErrorCodes];

export class OpenibError extends Error {
  override readonly name = 'OpenibError';
  constructor(
    readonly code: OpenibErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A link failure as reported: the module's own are OpenibErrors already; another (a verbs call
 * that threw) is wrapped, the original as cause.
 */
export function linkError(error: Error, rank: number): OpenibError {
  if (error instanceof OpenibError) return error;
  return new OpenibError(OpenibErrorCodes.LINK_FAILED, `btl openib: the link to rank ${rank} failed: ${error.message}`, { cause: error });
}
