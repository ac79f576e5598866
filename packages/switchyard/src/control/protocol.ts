/**
 * The control protocol between `switchyard ctl`, the job's coordinator (in the launcher) and the
 * ranks' control agents. A verb is two-phase: the coordinator sends `prepare` to every rank;
 * each checks it can do its part (changing nothing) and answers; only when all agree does it
 * send `commit`, else `abort`. Ranks answer `commit` when their part is done (drained).
 */

/** What a user asks for. `ranks` limits the verb to the links that touch those ranks. */
export type Verb =
  | { readonly verb: 'switch'; readonly btls: readonly string[]; readonly ranks?: readonly number[] }
  | { readonly verb: 'reset'; readonly ranks?: readonly number[] }
  | { readonly verb: 'unload'; readonly btl: string; readonly ranks?: readonly number[] }
  | { readonly verb: 'load'; readonly btl: string; readonly ranks?: readonly number[] }
  | { readonly verb: 'apply'; readonly mca: ReadonlyArray<readonly [string, string]>; readonly ranks?: readonly number[] }
  | { readonly verb: 'checkpoint'; readonly phase: 'prepare' | 'continue' | 'restart' };

export const VERB_NAMES = ['switch', 'reset', 'unload', 'load', 'apply', 'checkpoint'] as const;

/** Coordinator → rank requests (the body of a runtime request). */
export type AgentRequest =
  | { readonly ctl: 'status' }
  | { readonly ctl: 'prepare'; readonly txn: number; readonly verb: Verb }
  | { readonly ctl: 'commit'; readonly txn: number }
  | { readonly ctl: 'abort'; readonly txn: number };

/** A rank's answer to `prepare`: it can do its part, or why not. */
export type PrepareReply = { readonly ok: true; readonly summary: string } | { readonly ok: false; readonly reason: string };

/** A rank's answer to `commit`: what it changed. */
export interface CommitReply {
  readonly ok: boolean;
  readonly changes: readonly string[];
  readonly error?: string;
  readonly ms: number;
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
  }>;
  /** Per BTL component, over the whole run (unloaded and reloaded modules included). */
  readonly traffic: ReadonlyArray<{
    readonly btl: string;
    readonly fragmentsSent: number;
    readonly bytesSent: number;
    readonly fragmentsReceived: number;
    readonly bytesReceived: number;
  }>;
  /** MCA parameters changed at run time (`ctl apply`), with their values. */
  readonly runtimeParams: Readonly<Record<string, string>>;
  /** `prepared` between `checkpoint prepare` and `continue` / `restart`. */
  readonly checkpoint?: string;
  /** A verb prepared and not yet committed or aborted. */
  readonly pendingVerb?: string;
  /**
   * Set when the rank is busy in application code (its main thread has not yielded for
   * `forMs`): the rest is the snapshot it published before, answered for it by the launcher.
   */
  readonly busy?: { readonly forMs: number };
}

/** The coordinator's answer to a tool's `ctl` call. */
export interface VerbResult {
  readonly ok: boolean;
  /** `refused`: nothing changed; `failed`: rolled back or partly applied (see errors). */
  readonly outcome: 'done' | 'refused' | 'failed';
  readonly verb: string;
  readonly ms: number;
  readonly changes: ReadonlyArray<{ readonly rank: number; readonly changes: readonly string[] }>;
  readonly errors: ReadonlyArray<{ readonly rank?: number; readonly message: string }>;
}

/** Progress of the verb in flight, polled by `ctl` (tool call `ctl.progress`). */
export interface VerbProgress {
  readonly verb?: string;
  readonly phase?: 'prepare' | 'commit' | 'abort';
  readonly done: number;
  readonly total: number;
  /** Ranks this phase still waits for that are busy in application code, and for how long. */
  readonly busy?: ReadonlyArray<{ readonly rank: number; readonly forMs: number }>;
}

/** Tool-call methods the coordinator adds to the launcher. */
export const TOOL_CTL = 'ctl';
export const TOOL_CTL_PROGRESS = 'ctl.progress';
export const TOOL_CTL_STATUS = 'ctl.status';

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
  }
}
