import type { ControlHost } from './job-types.js';

/** What the launcher knows of a rank's main thread: busy in application code for how long, or free since when. */
export interface PeerActivityState {
  /** Busy in application code for this long. */
  readonly busyMs?: number;
  /** Not busy; it last was this long ago. */
  readonly freeForMs?: number;
  /** Its process is stopped (SIGSTOP, Ctrl-Z, a debugger): its pid, and how that is said (`stoppedProcessNote`). */
  readonly stopped?: { readonly pid: number; readonly note: string };
}

/**
 * How a rank learns who it is and exchanges data with its peers: Open MPI's ess/pmix role. The
 * embedded launcher's OOB channel is one implementation, a process started without a launcher
 * is another (a singleton), and a PMIx client can be a third; transports and the app API only
 * see this interface.
 */
export interface WireUp {
  readonly kind: 'embedded' | 'singleton' | (string & {});
  readonly jobId: string;
  readonly rank: number;
  readonly size: number;
  /** The job secret: transports use it to authenticate their connections between ranks. */
  readonly secret: string;
  /** The launcher's `--mca KEY VALUE` pairs, in order (the "command line" parameter source). */
  readonly mcaCommandLine: Array<[string, string]>;
  /**
   * The launcher's name for this rank's node, when it gives one (PMIx's PMIX_HOSTNAME). Ranks with
   * the same node name share a host; without one, the OS hostname decides.
   */
  readonly nodeName?: string;
  /**
   * The control plane this rank hosts, if any: with no launcher of ours (mpirun, srun), one rank
   * runs the job's controller, and the coordinator is installed on it.
   */
  readonly controlHost?: ControlHost;
  /**
   * The modex: publishes this rank's data (business cards: key -> JSON value), waits until every
   * rank has published, and returns rank -> data. May be called again (e.g. after a transport is
   * re-loaded); every rank must make the same sequence of calls for a given `name`
   * (default 'modex'), and distinct names may be in flight at once.
   */
  exchange(data: Record<string, unknown>, name?: string): Promise<Array<Record<string, unknown>>>;
  /** Waits until every rank has entered the barrier. */
  barrier(name?: string): Promise<void>;
  /**
   * Answers the launcher's control requests; the handler's result (or thrown error) is the reply.
   * Requests that arrive before a handler is set wait for one.
   */
  onRequest(handler: (body: unknown) => Promise<unknown> | unknown): void;
  /**
   * What the launcher answers for this rank while its main thread runs application code that
   * does not yield (a request sent with `whileBusy: 'snapshot'`): `provider()`'s latest value,
   * refreshed while the rank is free, plus `busy: { forMs }`. Absent where there is no launcher.
   */
  publishSnapshot?(provider: () => unknown): void;
  /**
   * Whether `rank` is busy in application code (its event loop not turning), or was lately, as
   * the launcher knows from that rank's activity monitor; undefined when no one knows. A peer
   * that answers none of its links may just be computing, or be catching up after it.
   */
  peerActivity?(rank: number): Promise<PeerActivityState | undefined>;
  /** A one-way message to the launcher (`RunningJob.onNotify`). */
  notify(body: unknown): void;
  /** Asks the launcher to abort the whole job with `code`, printing `message`; this process exits. */
  abort(code: number, message: string): Promise<never>;
  /** Tells the launcher this rank is done and closes the channel; idempotent. */
  finalize(): Promise<void>;
  /**
   * Tells the launcher that the script ended without calling finalize() and the runtime
   * finalizes for it, before that finalize's barrier (so a job that hangs there says why).
   */
  finalizingAtExit?(): void;
}

export interface WireUpOptions {
  /**
   * Called when the launcher disappears (its socket closes before finalize). Default: print a
   * message and exit the process with code 1, so a killed launcher leaves no orphan ranks.
   */
  onLost?(error: Error): void;
  /** How long to wait for the launcher's welcome (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * With no launcher of ours (mpirun, srun): a module whose default export `(host: ControlHost)
   * => void` installs the control plane. Given, the controlling rank runs the job's controller
   * and this control plane in a worker thread, so they answer while its main thread is busy;
   * without it, the controller runs on the main thread and is offered as `controlHost`.
   */
  controlPlane?: URL;
}
