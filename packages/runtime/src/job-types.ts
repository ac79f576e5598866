import type { TrustPolicy } from '@switchyard/mca';
import type { BindPolicy } from './cpu-binding.js';
import type { ExitStatus } from './exit-status.js';

/** How `launchJob` is asked to run a job (what `switchyard run` parses into). */
export interface LaunchOptions {
  readonly np: number;
  /** Path of the rank script, relative to `cwd` or absolute; `.ts`/`.mts`/`.cts` run through tsx. */
  readonly script: string;
  /**
   * Whose files the ranks may import that are not the application's (tsx, for a TypeScript
   * script): `mca_base_trust`'s policy. Without it they are not checked.
   */
  readonly trust?: TrustPolicy;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The ranks' base environment; the launcher adds the SWITCHYARD_* wire-up variables. */
  readonly env: NodeJS.ProcessEnv;
  /** `--mca KEY VALUE` pairs, in command-line order. */
  readonly mca: ReadonlyArray<readonly [string, string]>;
  /** Prefix each line of rank output with `[rank] `. */
  readonly tagOutput: boolean;
  /** Each rank's stderr goes where its stdout goes (mpirun's --merge-stderr-to-stdout). */
  readonly mergeStderrToStdout?: boolean;
  /**
   * Also write each rank's output, untagged, to DIR/1/rank.N/stdout and stderr (mpirun's
   * --output-filename, Open MPI 4's layout); the launcher's own output still gets a copy.
   */
  readonly outputDir?: string;
  /** Forwarded to rank 0's stdin (mpirun's default); the other ranks, and rank 0 without it, read /dev/null. */
  readonly stdin?: NodeJS.ReadableStream;
  /**
   * Abort the job once it has run this many seconds (mpirun's --timeout): mpirun's notice on
   * stderr and its exit code, ETIMEDOUT (110).
   */
  readonly timeoutSeconds?: number;
  /** Where the limit was set (`--timeout`, `MPIEXEC_TIMEOUT`), named when it runs out. */
  readonly timeoutFrom?: string;
  /**
   * What to print on stderr when the time limit runs out, before the job is ended: every rank's
   * state, to see why it hung. Given at most `TIMEOUT_DUMP_MS`; nothing is printed if it fails.
   */
  timeoutDump?(): Promise<string>;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Aborting it aborts the job (exit code 130), as SIGINT would. */
  readonly signal?: AbortSignal;
  /** Called once every rank is started and the OOB socket listens. */
  onReady?(job: RunningJob): void;
  /** Trap SIGINT/SIGTERM/SIGHUP of this process to abort the job cleanly (default true). */
  readonly handleSignals?: boolean;
  /** How long ranks get between SIGTERM and SIGKILL when the job is aborted (default 2000 ms). */
  readonly killGraceMs?: number;
  /** Prefix of the launcher's own messages on stderr (default `switchyard run`). */
  readonly logPrefix?: string;
  /** mpirun's --bind-to (see BindPolicy); unset: its default. */
  readonly bindTo?: BindPolicy;
  /** Say on stderr where each rank was bound (mpirun's --report-bindings). */
  readonly reportBindings?: boolean;
}

export interface RankOutcome {
  readonly rank: number;
  /** Undefined when the process could not be started. */
  readonly pid: number | undefined;
  readonly exit: ExitStatus;
}

export interface JobResult {
  readonly jobId: string;
  /** 0 when every rank exited 0; else the failing rank's code, 128 + signal, 130/143 on SIGINT/SIGTERM. */
  readonly exitCode: number;
  /** Why the job was aborted, when it was (the message printed to stderr). */
  readonly abortReason?: string;
  readonly ranks: readonly RankOutcome[];
}

export type RankState = 'running' | 'connected' | 'away' | 'finalized' | 'exited';

export interface RankStatus {
  readonly rank: number;
  readonly pid: number | undefined;
  readonly state: RankState;
  readonly exit?: ExitStatus;
  /**
   * How long the rank's main thread has been running code that does not yield (busy in
   * application code), as its activity monitor reports; absent while it is free or unknown.
   */
  readonly busyMs?: number;
  /** Its process is stopped (SIGSTOP, Ctrl-Z, a debugger), where the launcher can tell (it started it, on this host). */
  readonly stopped?: true;
}

/** How a request treats a rank that is busy in application code (RankStatus.busyMs). */
export interface RequestOptions {
  /**
   * `snapshot`: answer for a busy rank at once with what it last published
   * (`WireUp.publishSnapshot`) plus `busy: { forMs }`. `wait`: while a rank of the job is busy
   * and alive, no rank's answer times out; `timeoutMs` counts from the last moment one was known
   * busy (a collective step waits on the busy rank, so the others are waited for too). Default:
   * neither.
   */
  readonly whileBusy?: 'snapshot' | 'wait';
}

export interface JobStatus {
  readonly jobId: string;
  readonly np: number;
  /** The launcher's pid. */
  readonly pid: number;
  readonly aborting: boolean;
  /** What made the launcher abort the job (the first rank that ended badly, a timeout), once it does. */
  readonly abortReason?: string;
  readonly ranks: readonly RankStatus[];
}

/** The tool client a call came from. */
export interface ToolCaller {
  /** Runs `listener` when the client's connection closes (at once if it has). */
  onClose(listener: () => void): void;
}

/** Runs on the HNP for a tool's `call`; the result goes back as JSON. */
export type ToolCallHandler = (params: unknown, caller: ToolCaller) => unknown;

/**
 * What the job's coordinator needs of whoever hosts the control plane: the launcher's RunningJob,
 * or, with no launcher of ours (mpirun, srun), the controller a rank of the job runs.
 */
export interface ControlHost {
  readonly jobId: string;
  /** Where `readJobRecord` finds the job's record: the launcher's job folder, or a controller record file. */
  readonly jobDir: string;
  readonly size: number;
  /**
   * Sends `body` to each of `ranks` (a rank not connected yet gets it when it connects) and
   * resolves with rank -> reply once all answered; rejects with a RequestError naming every rank
   * that did not answer within `timeoutMs`, failed, finalized or died.
   */
  request(ranks: readonly number[] | 'all', body: unknown, timeoutMs: number, options?: RequestOptions): Promise<Map<number, unknown>>;
  /** Serves `method` to tool clients (`ToolClient.call`); returns the unregister function. */
  onToolCall(method: string, handler: ToolCallHandler): () => void;
  /** Listens to ranks' one-way notifications (`WireUp.notify`); returns the unsubscribe function. */
  onNotify?(listener: (rank: number, body: unknown) => void): () => void;
  status(): JobStatus;
  /**
   * Fails every modex fence whose name starts with `prefix`, open now or joined later, telling the
   * ranks in it `why` and which ranks had not joined (stopped, busy): a control verb's collective
   * step that the verb gave up on ends on every rank. Absent where fences are not the host's (PMIx).
   */
  closeFences?(prefix: string, why: string): void;
}

/** The HNP's handle on a job while it runs: the control plane later verbs are built on. */
export interface RunningJob extends ControlHost {
  readonly socketPath: string;
  /** rank -> pid. */
  readonly pids: readonly (number | undefined)[];
  /** Listens to ranks' one-way notifications; returns the unsubscribe function. */
  onNotify(listener: (rank: number, body: unknown) => void): () => void;
  /** Aborts the job as a failing rank would: message to stderr, ranks terminated, `exitCode`. */
  abort(message: string, exitCode?: number): void;
}
