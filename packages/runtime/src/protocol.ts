import type { RankFailureCode } from './errors.js';
/**
 * The messages of the out-of-band channel between the HNP and ranks or tools. Every message is a
 * JSON object with a string `type`; each side checks the fields it reads, since the other end
 * may be any process of the same user.
 */

export interface Message {
  readonly type: string;
  readonly [field: string]: unknown;
}

// ---- first frame of every connection -------------------------------------------------------

/** A rank introduces itself. The HNP answers `welcome` or `reject` (and closes). */
export interface RankHello extends Message {
  readonly type: 'hello';
  readonly role?: 'rank';
  readonly rank: number;
  readonly secret: string;
  readonly pid: number;
}

/** An outside tool (e.g. `switchyard ctl`) introduces itself with the job secret. */
export interface ToolHello extends Message {
  readonly type: 'hello';
  readonly role: 'tool';
  readonly secret: string;
}

/**
 * A rank's activity monitor (a worker thread of the rank, on its own connection) introduces
 * itself; it then only sends `activity`.
 */
export interface MonitorHello extends Message {
  readonly type: 'hello';
  readonly role: 'monitor';
  readonly rank: number;
  readonly secret: string;
  readonly pid: number;
}

export interface Welcome extends Message {
  readonly type: 'welcome';
  readonly jobId: string;
  readonly size: number;
}

export interface Reject extends Message {
  readonly type: 'reject';
  readonly reason: string;
}

// ---- rank -> HNP ---------------------------------------------------------------------------

/** Adds keys to this rank's modex data for its next fence of `name` (keys of one generation merge). */
export interface ModexPut extends Message {
  readonly type: 'modex.put';
  readonly name: string;
  readonly data: Record<string, unknown>;
}

/**
 * Joins fence `name` for the `generation`-th time (1-based; each rank counts its own). When all
 * ranks have joined the same (name, generation), the HNP sends each `fence.done` with the table
 * of what every rank put for it.
 */
export interface Fence extends Message {
  readonly type: 'fence';
  readonly name: string;
  readonly generation: number;
}

export interface Reply extends Message {
  readonly type: 'reply';
  readonly id: number;
  readonly ok: boolean;
  readonly body?: unknown;
  readonly error?: string;
}

export interface Notify extends Message {
  readonly type: 'notify';
  readonly body: unknown;
}

/**
 * The rank asks how long `rank` has been busy in application code, as that rank's activity
 * monitor reports it (a peer that cannot answer its links may just be computing); answered by
 * `peer.activity.reply` with the same `id`.
 */
export interface PeerActivity extends Message {
  readonly type: 'peer.activity';
  readonly id: number;
  readonly rank: number;
}

/** The rank asks the HNP to abort the whole job (MPI_Abort). */
export interface Abort extends Message {
  readonly type: 'abort';
  readonly code: number;
  readonly message: string;
}

/** The rank is done with the channel; the HNP answers `finalize.ack`. */
export interface Finalize extends Message {
  readonly type: 'finalize';
}

/**
 * The rank's script ended without calling finalize(), and the runtime finalizes for it (as
 * mpi4py does at exit). Sent before that finalize's barrier: a job that then hangs (another rank
 * waits for a message from this one) is reported with the ranks that wait in it.
 */
export interface FinalizeAtExit extends Message {
  readonly type: 'finalize.at-exit';
}

// ---- rank's monitor -> HNP -----------------------------------------------------------------

/**
 * The rank's main thread has not turned its event loop for `busyMs` (busy in application code),
 * sent when that starts and every second while it lasts; `busyMs: null` when it is free again.
 * `snapshot`, when present, is what to answer for the rank while it is busy.
 */
export interface Activity extends Message {
  readonly type: 'activity';
  readonly busyMs: number | null;
  readonly snapshot?: unknown;
}

// ---- HNP -> rank ---------------------------------------------------------------------------

export interface FenceDone extends Message {
  readonly type: 'fence.done';
  readonly name: string;
  readonly generation: number;
  /** rank -> what that rank put for this generation ({} when it put nothing). */
  readonly table: Array<Record<string, unknown>>;
}

/** The fence can never complete: a rank it waits for finalized or exited, or its owner closed it (`closed`). */
export interface FenceFailed extends Message {
  readonly type: 'fence.failed';
  readonly name: string;
  readonly generation: number;
  readonly reason: string;
  readonly closed?: true;
}

export interface Request extends Message {
  readonly type: 'request';
  readonly id: number;
  readonly body: unknown;
}

export interface FinalizeAck extends Message {
  readonly type: 'finalize.ack';
}

/**
 * How long the rank asked about has been busy in application code (null: it is not, or not known
 * to be); if it is not, how long ago it last was (null: never, or not known).
 */
export interface PeerActivityReply extends Message {
  readonly type: 'peer.activity.reply';
  readonly id: number;
  readonly busyMs: number | null;
  readonly freeForMs: number | null;
  /** The peer's pid when its process is stopped (SIGSTOP): it answers nothing until SIGCONT. Absent from older launchers. */
  readonly stoppedPid?: number | null;
}

// ---- tool -> HNP -> tool -------------------------------------------------------------------

/** Forward `body` to `ranks` and return their replies. */
export interface ToolRequest extends Message {
  readonly type: 'request';
  readonly id?: number;
  readonly ranks: number[] | 'all';
  readonly body: unknown;
  readonly timeoutMs: number;
}

/** Run an HNP-side method registered with `RunningJob.onToolCall` (built in: `status`). */
export interface ToolCall extends Message {
  readonly type: 'call';
  readonly id?: number;
  readonly method: string;
  readonly params?: unknown;
}

export interface ToolResponse extends Message {
  readonly type: 'response';
  /** The id of the tool's message (null when it had none). */
  readonly id: number | null;
  readonly ok: boolean;
  /** For `request`: [rank, reply] pairs. For `call`: the method's result. */
  readonly result?: unknown;
  readonly error?: string;
  /** What kind of failure `error` is (e.g. `ERR_SWITCHYARD_UNKNOWN_METHOD`), when it has a code. */
  readonly code?: string;
  /** For a failed `request`: [rank, why] pairs. */
  readonly failures?: Array<[number, string]>;
  /** For a failed `request`: [rank, RankFailureCode] pairs. */
  readonly codes?: Array<[number, RankFailureCode]>;
  readonly replies?: Array<[number, unknown]>;
}

export function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as Message).type === 'string';
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
