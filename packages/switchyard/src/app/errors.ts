/** What went wrong, as MPI's error classes name it; tested with `error.code`, never the message. */
export type MpiErrorCode =
  | 'ERR_RANK'
  | 'ERR_ROOT'
  | 'ERR_COUNT'
  | 'ERR_TYPE'
  | 'ERR_OP'
  | 'ERR_BUFFER'
  | 'ERR_TRUNCATE'
  | 'ERR_COMM'
  | 'ERR_GROUP'
  | 'ERR_ARG';

/** An error of the application API: bad arguments, a freed communicator, a mismatched buffer. */
export class MpiError extends Error {
  constructor(
    readonly code: MpiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MpiError';
  }
}
