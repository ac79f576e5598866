/**
 * The control protocol between `switchyard ctl`, the job's coordinator (in the launcher) and the
 * ranks' control agents. A verb is two-phase: the coordinator sends `prepare` to every rank;
 * each checks it can do its part (changing nothing) and answers; only when all agree does it
 * send `commit`, else `abort`. Ranks answer `commit` when their part is done (drained). When a
 * commit fails on any rank, every live rank gets `rollback`: each undoes, in reverse, the steps
 * of the verb it carried out, so the job is back where it was before the verb.
 */

import type { PmlState } from '@switchyard/pml';

/** What a user asks for. `ranks` limits the verb to the links that touch those ranks. */
export type Verb =
  | { readonly verb: 'switch'; readonly btls: readonly string[]; readonly ranks?: readonly number[] }
  | { readonly verb: 'reset'; readonly ranks?: readonly number[] }
  | { readonly verb: 'unload'; readonly btl: string; readonly ranks?: readonly number[] }
  | { readonly verb: 'load'; readonly btl: string; readonly ranks?: readonly number[] }
  | { readonly verb: 'apply'; readonly mca: ReadonlyArray<readonly [string, string]>; readonly ranks?: readonly number[] }
  | { readonly verb: 'checkpoint'; readonly phase: 'prepare' | 'continue' | 'restart' }
  /** Steps of `ctl migrate`: the links of the one rank in `ranks` close before its move (away), and come back after (back). */
  | { readonly verb: 'migrate'; readonly phase: 'away' | 'back'; readonly ranks: readonly number[] };

export const VERB_NAMES = ['switch', 'reset', 'unload', 'load', 'apply', 'checkpoint', 'migrate'] as const;

/** Coordinator → rank requests (the body of a runtime request). */
export type AgentRequest =
  | { readonly ctl: 'status' }
  | {
    readonly ctl: 'prepare';
    readonly txn: number;
    readonly verb: Verb;
    /** How long the commit's drains may take in all (the verb's `--timeout`, less a margin to answer). */
    readonly drainTimeoutMs?: number;
  }
  | { readonly ctl: 'commit'; readonly txn: number }
  | { readonly ctl: 'abort'; readonly txn: number }
  | {
    readonly ctl: 'rollback';
    readonly txn: number;
    /** The ranks whose commit succeeded: a collective undo (loading back) is scoped to them. */
    readonly applied: readonly number[];
    /**
     * Per component, the ranks that unloaded it in this commit, whether their commit then
     * succeeded or failed at a later step: undoing the unload loads it back on those.
     */
    readonly unloadedBy?: Readonly<Record<string, readonly number[]>>;
    /** How long the undo's drains may take in all. */
    readonly drainTimeoutMs?: number;
  };

/**
 * Why a rank could not do its part, as a code a tool can act on (never match the message):
 * - `ERR_CTL_REFUSED`: prepare found the verb cannot be done here (the message says why);
 * - `ERR_CTL_ALREADY_LOADED`: `load` of a transport loaded and healthy on every rank;
 * - `ERR_CTL_BUSY`: the rank holds another verb;
 * - `ERR_CTL_NOT_PREPARED`: a commit for a verb the rank does not hold;
 * - `ERR_CTL_COMMIT_FAILED`: a step of the commit failed (a load, a finalize, ...);
 * - `ERR_CTL_DRAIN_TIMEOUT`: a drain did not finish within the verb's timeout;
 * - `ERR_CTL_STEP_CLOSED`: a collective step (a load's exchange) was closed when the verb's time was
 *   up, before some rank joined it (the message names it: stopped, busy, or at another step);
 * - `ERR_CTL_NO_ANSWER`: the rank did not answer in time, or died;
 * - `ERR_CTL_ROLLBACK_FAILED`: undoing a failed verb failed: the rank is left partly changed;
 * - `ERR_CTL_JOB_ABORTING`: the job is being aborted (a rank died): it ends, whatever the verb did.
 */
export type CtlErrorCode =
  | 'ERR_CTL_REFUSED'
  | 'ERR_CTL_ALREADY_LOADED'
  | 'ERR_CTL_BUSY'
  | 'ERR_CTL_NOT_PREPARED'
  | 'ERR_CTL_COMMIT_FAILED'
  | 'ERR_CTL_DRAIN_TIMEOUT'
  | 'ERR_CTL_STEP_CLOSED'
  | 'ERR_CTL_NO_ANSWER'
  | 'ERR_CTL_ROLLBACK_FAILED'
  | 'ERR_CTL_JOB_ABORTING';

/**
 * A rank's answer to `prepare`: it can do its part, or why not. `unchanged` says this rank takes
 * part but changes nothing unless another rank does (its reason, e.g. already loaded; none when
 * it is outside the verb's `--ranks`): the coordinator refuses a verb that changes nothing on
 * any rank, with those reasons.
 */
export type PrepareReply =
  | { readonly ok: true; readonly summary: string; readonly unchanged?: { readonly code: CtlErrorCode; readonly reason?: string } }
  | { readonly ok: false; readonly reason: string; readonly code?: CtlErrorCode };

/** A rank's answer to `commit`: what it changed (on failure: what it changed before failing, still applied). */
export interface CommitReply {
  readonly ok: boolean;
  readonly changes: readonly string[];
  /** The components this rank unloaded (every link of theirs gone), also when a later step failed. */
  readonly unloaded?: readonly string[];
  /**
   * A reset's undoing of earlier switches here: the peers a loaded transport was kept from, and
   * those whose traffic had fallen back (the switched-to transports failed). The coordinator says
   * it once for the job, as the switch was asked for.
   */
  readonly switchUndone?: { readonly peers: readonly number[]; readonly fellBack: readonly number[] };
  readonly error?: string;
  readonly code?: CtlErrorCode;
  readonly ms: number;
}

/** A rank's answer to `rollback`: what it undid, and on failure what is still applied. */
export interface RollbackReply {
  readonly ok: boolean;
  readonly undone: readonly string[];
  /** The verb's changes still in place on this rank (an undo failed). */
  readonly applied: readonly string[];
  readonly error?: string;
  readonly code?: CtlErrorCode;
}

/**
 * Where one rank stands after a verb that failed: `unchanged` (it changed nothing), `rolled-back`
 * (it changed and undid everything), `partial` (an undo failed: `applied` is what stays),
 * `unknown` (it did not answer: it may hold anything of the verb).
 */
export interface RankOutcome {
  readonly rank: number;
  readonly state: 'unchanged' | 'rolled-back' | 'partial' | 'unknown';
  readonly applied: readonly string[];
  readonly error?: string;
  readonly code?: CtlErrorCode;
}

/** A failed link or module, as a rank's status shows it. */
export interface LinkFailure {
  /** Module name, e.g. `openib:soft0:1`. */
  readonly module: string;
  /** The peer of a failed link; absent when the whole module failed. */
  readonly peer?: number;
  /** `endpoint`: this link; `fatal`: the whole module here; `peer`: the peer's module. */
  readonly severity: 'endpoint' | 'fatal' | 'peer';
  readonly error: string;
  /** ISO 8601 time of the failure. */
  readonly at: string;
}

/** Fragments and bytes per second one BTL carried on a rank, over the status's `rateWindowMs`. */
export interface TrafficRate {
  readonly btl: string;
  readonly fragmentsSentPerSec: number;
  readonly bytesSentPerSec: number;
  readonly fragmentsReceivedPerSec: number;
  readonly bytesReceivedPerSec: number;
}

/**
 * A link whose module has held `sends` and completed none of them for `forMs` (at least 2 s):
 * the peer stopped reading, or the module lost them.
 */
export interface StalledSends {
  /** Module name, e.g. `tcp:lo`. */
  readonly module: string;
  readonly peer: number;
  readonly sends: number;
  readonly forMs: number;
}

/** A rank's vital signs: how late its event loop runs, its memory, its traffic rates. */
export interface RankHealth {
  /**
   * How late the event loop turned (perf_hooks.monitorEventLoopDelay) over the last second:
   * mean, 99th percentile and max; `worstMs` is the max since the rank started.
   */
  readonly eventLoopDelay: { readonly meanMs: number; readonly p99Ms: number; readonly maxMs: number; readonly worstMs: number };
  readonly heap: { readonly usedBytes: number; readonly totalBytes: number; readonly rssBytes: number; readonly externalBytes: number };
  readonly rates: readonly TrafficRate[];
  /** The span the rates were measured over (one to two seconds). */
  readonly rateWindowMs: number;
  readonly uptimeSeconds: number;
  /** Links holding sends their module has not completed for a while (absent from older ranks). */
  readonly stalledSends?: readonly StalledSends[];
}

/** What one rank reports for `ctl status`. */
export interface RankStatus {
  readonly rank: number;
  readonly pid: number;
  readonly hostname: string;
  readonly components: ReadonlyArray<{
    readonly name: string;
    readonly checkpointable: boolean;
    readonly modules: readonly string[];
  }>;
  readonly peers: ReadonlyArray<{
    readonly rank: number;
    readonly eager: readonly string[];
    readonly send: readonly string[];
    readonly rdma: readonly string[];
    /** Every module reaching the peer, used or not. */
    readonly reachable: readonly string[];
    /** The send list holds transports a switch left out: every one it chose failed. */
    readonly fallback?: boolean;
  }>;
  /** Per BTL component, over the whole run (unloaded and reloaded modules included). */
  readonly traffic: ReadonlyArray<{
    readonly btl: string;
    readonly fragmentsSent: number;
    readonly bytesSent: number;
    readonly fragmentsReceived: number;
    readonly bytesReceived: number;
  }>;
  /** The PML's queues: posted receives, unexpected messages, rendezvous in flight, per peer. */
  readonly pml?: PmlState;
  /** Event-loop delay, heap, rates per BTL. */
  readonly health?: RankHealth;
  /** MCA parameters changed at run time (`ctl apply`), with their values. */
  readonly runtimeParams: Readonly<Record<string, string>>;
  /** `prepared` between `checkpoint prepare` and `continue` / `restart`. */
  readonly checkpoint?: string;
  /** Between `migrate away` and `migrate back`: the rank being moved. */
  readonly moving?: number;
  /** A verb prepared and not yet committed or aborted. */
  readonly pendingVerb?: string;
  /**
   * Set when the rank is busy in application code (its main thread has not yielded for
   * `forMs`): the rest is the snapshot it published before, answered for it by the launcher.
   */
  readonly busy?: { readonly forMs: number };
  /** Failed links and modules (absent from older ranks). */
  readonly failures?: readonly LinkFailure[];
  /** The last verb that failed here and could not be fully undone: what it left applied. */
  readonly partialVerb?: {
    readonly verb: string;
    readonly applied: readonly string[];
    readonly error: string;
    readonly code?: CtlErrorCode;
  };
}

/** The coordinator's answer to a tool's `ctl` call. */
export interface VerbResult {
  readonly ok: boolean;
  /** `refused`: nothing changed; `failed`: rolled back or partly applied (see errors). */
  readonly outcome: 'done' | 'refused' | 'failed';
  readonly verb: string;
  readonly ms: number;
  readonly changes: ReadonlyArray<{ readonly rank: number; readonly changes: readonly string[] }>;
  /** What the verb changed for the whole job, said once rather than per rank (the switches a reset undid). */
  readonly jobChanges?: readonly string[];
  readonly errors: ReadonlyArray<{ readonly rank?: number; readonly message: string; readonly code?: CtlErrorCode }>;
  /** For a `failed` verb: where every rank stands afterwards. */
  readonly ranks?: readonly RankOutcome[];
}

/** Progress of the verb in flight, polled by `ctl` (tool call `ctl.progress`). */
export interface VerbProgress {
  readonly verb?: string;
  readonly phase?: 'prepare' | 'commit' | 'abort' | 'rollback';
  readonly done: number;
  readonly total: number;
  /** Ranks this phase still waits for that are busy in application code, and for how long. */
  readonly busy?: ReadonlyArray<{ readonly rank: number; readonly forMs: number }>;
}

/** Tool-call methods the coordinator adds to the launcher. */
export const TOOL_CTL = 'ctl';
export const TOOL_CTL_PROGRESS = 'ctl.progress';
export const TOOL_CTL_STATUS = 'ctl.status';

/** A phase of a verb whose collective steps (modex fences) the coordinator may close when its time is up. */
export type FencedPhase = 'commit' | 'rollback';

/**
 * The name of a collective step (modex fence) a rank runs for verb `txn` in `phase`: every such
 * name starts with `verbFencePrefix(txn, phase)`, which the coordinator closes by.
 */
export function verbFenceName(txn: number, phase: FencedPhase, step: string): string {
  return `${verbFencePrefix(txn, phase)}${step}`;
}

export function verbFencePrefix(txn: number, phase: FencedPhase): string {
  return `ctl-${txn}-${phase}:`;
}

export function describeVerb(v: Verb): string {
  const scope = 'ranks' in v && v.ranks?.length ? ` --ranks ${v.ranks.join(',')}` : '';
  switch (v.verb) {
    case 'switch':
      return `switch ${v.btls.join(',')}${scope}`;
    case 'reset':
      return `reset${scope}`;
    case 'unload':
    case 'load':
      return `${v.verb} ${v.btl}${scope}`;
    case 'apply':
      return `apply ${v.mca.map(([k, val]) => `--mca ${k} ${val}`).join(' ')}${scope}`;
    case 'checkpoint':
      return `checkpoint ${v.phase}`;
    case 'migrate':
      return `migrate ${v.phase}${scope}`;
  }
}
