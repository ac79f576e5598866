/** What went wrong, as MPI's error classes name it; tested with `error.code`, never the message. */
export type MpiErrorCode =
  | 'ERR_RANK'
  | 'ERR_ROOT'
  | 'ERR_COUNT'
  | 'ERR_TYPE'
  | 'ERR_OP'
  | 'ERR_TAG'
  | 'ERR_BUFFER'
  | 'ERR_TRUNCATE'
  | 'ERR_COMM'
  | 'ERR_GROUP'
  | 'ERR_REQUEST'
  /** A receive withdrawn by `cancel()` (MPI_Cancel): its wait rejects with RequestCancelledError. */
  | 'ERR_REQUEST_CANCELLED'
  | 'ERR_ARG'
  | 'ERR_OTHER';

/**
 * An error of the application API: bad arguments, a freed communicator, a mismatched buffer, a
 * message larger than its receive buffer. Defined where the PML can raise it (MPI_ERR_TRUNCATE
 * is found when a message matches), and exported by the application package.
 */
export class MpiError extends Error {
  constructor(
    readonly code: MpiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MpiError';
  }
}

/** A value as an error message shows it: a rank given as '1' or 1n says what it was. */
export function shown(value: unknown): string {
  if (typeof value === 'string') return `'${value}' (a string)`;
  if (typeof value === 'bigint') return `${value}n (a bigint)`;
  if (value !== null && typeof value === 'object') {
    const name = value.constructor?.name ?? 'object';
    return `${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${name}`;
  }
  return String(value);
}
