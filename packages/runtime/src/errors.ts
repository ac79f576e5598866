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
 * A collective step (modex fence) its owner closed before every rank joined it: a control verb
 * whose time was up. The message names the ranks that had not joined and why (stopped, busy).
 */
export class FenceClosedError extends Error {
  override readonly name = 'FenceClosedError';
  readonly code = 'ERR_SWITCHYARD_FENCE_CLOSED';
}

/**
 * A tool call the job's HNP could not run: `code` is the HNP's (`ERR_SWITCHYARD_UNKNOWN_METHOD`:
 * the job serves no such method), or the method's own error code, or `ERR_SWITCHYARD_TOOL_CALL`.
 */
export class ToolCallError extends Error {
  override readonly name = 'ToolCallError';
  constructor(
    message: string,
    readonly code: string = 'ERR_SWITCHYARD_TOOL_CALL',
  ) {
    super(message);
  }
}

/** A tool's connection to its job closed (the job has probably ended). */
export class ToolConnectionClosedError extends Error {
  override readonly name = 'ToolConnectionClosedError';
  readonly code = 'ERR_SWITCHYARD_TOOL_CONNECTION_CLOSED';
}

/** Why a rank has no answer to a control request: a code callers branch on, never the text. */
export type RankFailureCode =
  /** The rank's process ended (`why` says how). */
  | 'ERR_SWITCHYARD_RANK_EXITED'
  /** It closed its out-of-band connection; its exit may not be known yet. */
  | 'ERR_SWITCHYARD_RANK_DISCONNECTED'
  | 'ERR_SWITCHYARD_RANK_FINALIZED'
  | 'ERR_SWITCHYARD_RANK_TIMEOUT'
  /** It answered, with an error. */
  | 'ERR_SWITCHYARD_RANK_FAILED';

/** One rank's failure: its code, and the words for the user ("exited with code 1"). */
export interface RankFailure {
  readonly code: RankFailureCode;
  readonly why: string;
}

/**
 * A control request did not get an answer from every rank it went to. `failures` says why for
 * each rank that failed and `codes` what kind of failure it was; `replies` holds the answers that
 * did come, so a caller can roll back.
 */
export class RequestError extends Error {
  override readonly name = 'RequestError';
  readonly code = 'ERR_SWITCHYARD_REQUEST';
  constructor(
    readonly failures: ReadonlyMap<number, string>,
    readonly replies: ReadonlyMap<number, unknown>,
    message = describeFailures(failures),
    readonly codes: ReadonlyMap<number, RankFailureCode> = new Map(),
  ) {
    super(message);
  }
}

function describeFailures(failures: ReadonlyMap<number, string>): string {
  const parts = [...failures].sort(([a], [b]) => a - b).map(([rank, why]) => `rank ${rank} ${why}`);
  return `control request failed: ${parts.join('; ')}`;
}
