import type { RankFailure, RankFailureCode } from './errors.js';
import { describeExit, type ExitStatus } from './exit-status.js';
import { FenceBook, isCompleted, type FailedFence } from './fence-book.js';
import { isProcessStopped, stoppedResumeNote } from './launcher-alive.js';
import type { FramedConnection } from './framed-connection.js';
import type { JobStatus, RankState, RequestOptions, RunningJob, ToolCallHandler, ToolCaller } from './job-types.js';
import { isPlainObject, type Message, type Reply, type Request } from './protocol.js';
import { RankActivity } from './rank-activity.js';
import { RequestTracker, type BusyView } from './request-tracker.js';

interface RankSlot {
  readonly rank: number;
  pid: number | undefined;
  /** The launcher started `pid` on this machine (not only a pid a rank's hello gave, maybe of another host). */
  startedHere?: boolean;
  connection: FramedConnection | null;
  /** A hello of this rank was accepted once; a second one is a duplicate. */
  connected: boolean;
  finalized: boolean;
  /** Its script ended without calling finalize(): the runtime finalizes for it (finalize.at-exit). */
  finalizingAtExit: boolean;
  exit: ExitStatus | null;
  /** Requests sent before the rank connected; delivered on connect. */
  readonly queued: Request[];
  /** The rank's activity monitor (a worker thread of the rank), when it has one. */
  monitor: FramedConnection | null;
  readonly activity: RankActivity;
  /** Being moved to another host (`ctl migrate`): its connections close, and it says hello again. */
  away: boolean;
  /** Called when the rank's connections changed (closed while away, or it came back). */
  changed?: () => void;
}

/** The exchanges init() runs before a rank's control agent starts: the wire-up's default and the transports' modex. */
const INIT_FENCES = new Set(['modex', 'btl-modex']);

/** How long a rank's abort waits for the exit of a peer whose connection closed without a goodbye. */
const VANISHED_PEER_GRACE_MS = 1_000;

export interface ControllerOptions {
  readonly jobId: string;
  readonly jobDir: string;
  readonly socketPath: string;
  readonly size: number;
  log(line: string): void;
  /** Aborts the job; the launcher owns the processes. */
  abort(reason: string, exitCode: number): void;
  isAborting(): boolean;
  /** Why the job is being aborted ("rank 1 (pid …) was killed by signal SIGKILL"), once it is. */
  abortReason?(): string | undefined;
  /**
   * A rank that closes its connection without having finalized ends the job. For a controller
   * inside a rank (mpirun, srun): the launcher there does not end a job whose rank exited 0
   * without MPI_Finalize, nor does srun one whose rank failed (without --kill-on-bad-exit), and
   * the others would wait for that rank for ever. `switchyard run` learns of the exit itself.
   */
  readonly rankLossEndsJob?: boolean;
}

/**
 * The HNP's view of the ranks' OOB channels: who is connected, the modex fences, control
 * requests, notifications and tool calls. It never touches processes: the launcher tells it
 * about spawns and exits, and it asks the launcher to abort.
 */
export class JobController implements RunningJob {
  readonly jobId: string;
  readonly jobDir: string;
  readonly socketPath: string;
  readonly size: number;
  readonly #options: ControllerOptions;
  readonly #slots: RankSlot[];
  readonly #fences: FenceBook;
  readonly #requests = new RequestTracker();
  readonly #notifyListeners = new Set<(rank: number, body: unknown) => void>();
  readonly #toolHandlers = new Map<string, ToolCallHandler>();
  /** Tool calls being handled, so the launcher can let them answer before it closes. */
  readonly #toolCalls = new Set<Promise<void>>();

  constructor(options: ControllerOptions) {
    this.#options = options;
    this.jobId = options.jobId;
    this.jobDir = options.jobDir;
    this.socketPath = options.socketPath;
    this.size = options.size;
    this.#fences = new FenceBook(options.size);
    this.#slots = Array.from({ length: options.size }, (_, rank) => ({
      rank,
      pid: undefined,
      connection: null,
      connected: false,
      finalized: false,
      finalizingAtExit: false,
      exit: null,
      queued: [],
      monitor: null,
      activity: new RankActivity(),
      away: false,
    }));
    this.#toolHandlers.set('status', () => this.status());
  }

  get pids(): readonly (number | undefined)[] {
    return this.#slots.map((s) => s.pid);
  }

  // ---- what the launcher tells us ------------------------------------------------------------

  rankStarted(rank: number, pid: number | undefined): void {
    this.#slots[rank]!.pid = pid;
    this.#slots[rank]!.startedHere = pid !== undefined;
  }

  rankExited(rank: number, exit: ExitStatus): void {
    const slot = this.#slots[rank]!;
    slot.exit = exit;
    this.#rankGone(slot, { code: 'ERR_SWITCHYARD_RANK_EXITED', why: `${describeExit(exit)} before answering` }, describeExit(exit));
    slot.connection?.destroy();
  }

  /** True when the rank joined the OOB channel but never finalized (an error if it exits 0). */
  connectedWithoutFinalize(rank: number): boolean {
    const slot = this.#slots[rank]!;
    return slot.connected && !slot.finalized;
  }

  /**
   * Ranks whose script ended without calling finalize() and that wait in the finalize the runtime
   * runs for them (its barrier): what a job that hangs or times out then is waiting on.
   */
  waitingInFinalizeAtExit(): number[] {
    return this.#slots.filter((s) => s.finalizingAtExit && !s.finalized && !s.exit).map((s) => s.rank);
  }

  // ---- what the OOB server tells us ----------------------------------------------------------

  /** Why a hello claiming `rank` must be refused, or null. */
  refuseRank(rank: number): string | null {
    const slot = this.#slots[rank];
    if (!slot) return `rank ${rank} is out of range (job size ${this.size})`;
    if (slot.exit) return `rank ${rank} has already exited`;
    // A moved rank says hello again from its new host, once its old connection is gone.
    if (slot.away && !slot.connection) return null;
    if (slot.connected) return `rank ${rank} is already connected (duplicate rank)`;
    return null;
  }

  /**
   * Sends `rank` away (it is about to be moved to another host): it closes its connections and
   * says hello again once `returnFile` exists. Resolves once both connections are closed;
   * rejects when the rank cannot go now or did not close them within `timeoutMs`.
   */
  async sendAway(rank: number, returnFile: string, timeoutMs: number): Promise<void> {
    const slot = this.#slots[rank];
    if (!slot) throw new RangeError(`no rank ${rank} in a job of size ${this.size}`);
    if (slot.exit || slot.finalized || !slot.connection) {
      throw new Error(`rank ${rank} is ${stateOf(slot)}: only a running rank connected to the launcher can be moved`);
    }
    if (slot.away) throw new Error(`rank ${rank} is already being moved`);
    slot.away = true;
    slot.connection.send({ type: 'away', returnFile });
    await this.#until(slot, () => !slot.connection && !slot.monitor, timeoutMs, `rank ${rank} did not close its connections`);
  }

  /** Waits (at most `timeoutMs`) until `rank`, sent away, said hello again. */
  async awaitReturn(rank: number, timeoutMs: number): Promise<void> {
    const slot = this.#slots[rank]!;
    await this.#until(slot, () => !slot.away || !!slot.exit, timeoutMs, `rank ${rank} did not connect again`);
    if (slot.exit) throw new Error(`rank ${rank} ${describeExit(slot.exit)} instead of connecting again`);
  }

  #until(slot: RankSlot, done: () => boolean, timeoutMs: number, failure: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (error?: Error) => {
        clearTimeout(timer);
        slot.changed = undefined;
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => finish(new Error(`${failure} within ${timeoutMs} ms`)), timeoutMs);
      slot.changed = () => {
        if (done()) finish();
      };
      slot.changed();
    });
  }

  /** An authenticated rank connection: it is ours from now on (`pid` as its hello says, where no launcher told us). */
  rankConnected(rank: number, connection: FramedConnection, pid?: number): void {
    const slot = this.#slots[rank]!;
    slot.pid ??= pid;
    slot.connection = connection;
    slot.connected = true;
    slot.away = false;
    connection.setHandlers({
      message: (message) => this.#onRankMessage(slot, message),
      close: () => {
        if (slot.connection !== connection) return;
        slot.connection = null;
        if (slot.away) return slot.changed?.();
        if (!slot.finalized && !slot.exit) {
          this.#rankGone(
            slot,
            { code: 'ERR_SWITCHYARD_RANK_DISCONNECTED', why: 'closed its out-of-band connection before answering' },
            'closed its out-of-band connection',
          );
          if (this.#options.rankLossEndsJob && !this.#options.isAborting()) {
            const pid = slot.pid === undefined ? '' : ` (pid ${slot.pid})`;
            const how = 'it exited, crashed or lost its connection to the controller';
            this.#options.abort(`rank ${rank}${pid} left the job without calling finalize(): ${how}`, 1);
          }
        }
      },
    });
    for (const request of slot.queued.splice(0)) connection.send(request);
    slot.changed?.();
  }

  /** Whether `rank` has finalized or exited. */
  rankDone(rank: number): boolean {
    const slot = this.#slots[rank];
    return !!slot && (slot.finalized || !!slot.exit);
  }

  /** Why a monitor hello for `rank` must be refused, or null. */
  refuseMonitor(rank: number): string | null {
    const slot = this.#slots[rank];
    if (!slot) return `rank ${rank} is out of range (job size ${this.size})`;
    if (slot.monitor) return `rank ${rank} already has an activity monitor`;
    if (slot.exit || slot.finalized) return `rank ${rank} has already ${slot.exit ? 'exited' : 'finalized'}`;
    return null;
  }

  /**
   * A rank's activity monitor: what it says about the rank (busy in application code, for how
   * long, and what to answer for it meanwhile). Its close says nothing about the rank itself.
   */
  monitorConnected(rank: number, connection: FramedConnection): void {
    const slot = this.#slots[rank]!;
    slot.monitor = connection;
    connection.setHandlers({
      message: (message) => {
        if (message.type !== 'activity' || !slot.activity.update(message))
          return this.#protocolError(slot, `monitor sent '${message.type}' without a valid busyMs`);
        this.#requests.activityChanged(rank);
      },
      close: () => {
        if (slot.monitor !== connection) return;
        slot.monitor = null;
        slot.activity.forget();
        slot.changed?.();
      },
    });
  }

  /** An authenticated tool connection. */
  toolConnected(connection: FramedConnection): void {
    const onClose: Array<() => void> = [];
    let closed = false;
    const caller: ToolCaller = {
      onClose: (listener) => (closed ? listener() : void onClose.push(listener)),
    };
    connection.setHandlers({
      message: (message) =>
        // A misbehaving tool must never take the launcher (and so the job) down.
        void this.#onToolMessage(connection, message, caller).catch((err: unknown) => {
          this.#options.log(`a tool message failed: ${err instanceof Error ? err.message : String(err)}`);
          connection.destroy();
        }),
      close: () => {
        closed = true;
        for (const listener of onClose.splice(0)) listener();
      },
    });
  }

  // ---- RunningJob ----------------------------------------------------------------------------

  request(ranks: readonly number[] | 'all', body: unknown, timeoutMs: number, options: RequestOptions = {}): Promise<Map<number, unknown>> {
    const targets = ranks === 'all' ? this.#slots.map((s) => s.rank) : [...new Set(ranks)].sort((a, b) => a - b);
    const bad = targets.filter((r) => !Number.isInteger(r) || r < 0 || r >= this.size);
    if (bad.length) return Promise.reject(new RangeError(`no rank ${bad.join(', ')} in a job of size ${this.size}`));
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0))
      return Promise.reject(new RangeError(`timeoutMs must be positive, got ${timeoutMs}`));
    return this.#requests.request(targets, body, timeoutMs, (rank, message) => this.#deliver(rank, message), this.#busyView(options));
  }

  /** The last moment any rank was known busy and alive. */
  #lastBusyAt(): number | undefined {
    const times = this.#slots.map((s) => s.activity.lastBusyAt()).filter((t) => t !== undefined);
    return times.length ? Math.max(...times) : undefined;
  }

  #busyView(options: RequestOptions): BusyView {
    const activity = (rank: number) => this.#slots[rank]!.activity;
    const cannotAnswer = (rank: number) => this.#stoppedNote(rank) ?? this.#busyNote(rank) ?? this.#wireUpNote(rank);
    if (options.whileBusy === 'snapshot') return { standIn: (rank) => activity(rank).standIn(), cannotAnswer };
    // Any rank: in a collective step (a commit's drains) the others wait on the busy one. Not a
    // stopped rank: it answers nothing however long the others compute (SIGCONT is up to a person).
    if (options.whileBusy === 'wait') {
      return { lastBusy: (rank) => (this.#stoppedPid(rank) === undefined ? this.#lastBusyAt() : undefined), cannotAnswer };
    }
    return { cannotAnswer };
  }

  /** Why a rank that timed out did not answer, when it is busy in application code (a --timeout shorter than its compute). */
  #busyNote(rank: number): string | undefined {
    const forMs = this.#slots[rank]!.activity.busyMs();
    if (forMs === undefined) return undefined;
    return `it is busy in application code (its main thread has not yielded for ${(forMs / 1000).toFixed(1)} s)`;
  }

  /**
   * Why a rank that timed out did not answer while it is not yet wired up: it has not called
   * init() (its script runs, or computes, before it), or it waits in an exchange (init()'s modex)
   * for ranks that have not joined it. Its control agent starts once init() is done.
   */
  #wireUpNote(rank: number): string | undefined {
    const slot = this.#slots[rank]!;
    if (slot.exit || slot.finalized || slot.away) return undefined;
    if (!slot.connected) return 'it has not called init() yet (its script is still running, or computing, before it)';
    const fence = this.#fences.waitingIn(rank);
    if (!fence) return undefined;
    const missing = fence.missing.map((r) => `${r}${this.#slots[r]!.connected ? '' : ' (not in init() yet)'}`);
    const what = INIT_FENCES.has(fence.name) ? "in init(), in the wire-up's exchange" : `in the exchange '${fence.name}'`;
    return `it waits ${what} for rank${missing.length === 1 ? '' : 's'} ${missing.join(', ')}`;
  }

  /** What an operator needs to know of a rank that timed out because its process is stopped. */
  #stoppedNote(rank: number): string | undefined {
    const pid = this.#stoppedPid(rank);
    return pid === undefined ? undefined : stoppedResumeNote(pid);
  }

  /** The pid of `rank` when its process is stopped; only one this launcher started can be looked up on this host. */
  #stoppedPid(rank: number): number | undefined {
    const { pid, startedHere } = this.#slots[rank]!;
    return pid !== undefined && startedHere && isProcessStopped(pid) ? pid : undefined;
  }

  onNotify(listener: (rank: number, body: unknown) => void): () => void {
    this.#notifyListeners.add(listener);
    return () => this.#notifyListeners.delete(listener);
  }

  /**
   * Waits (at most `timeoutMs`) for the tool calls in progress to answer: a verb that a rank's
   * death ended is still answered before the launcher closes its socket and exits.
   */
  async settleToolCalls(timeoutMs: number): Promise<void> {
    if (!this.#toolCalls.size) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.#toolCalls]), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  onToolCall(method: string, handler: ToolCallHandler): () => void {
    this.#toolHandlers.set(method, handler);
    return () => {
      if (this.#toolHandlers.get(method) === handler) this.#toolHandlers.delete(method);
    };
  }

  status(): JobStatus {
    return {
      jobId: this.jobId,
      np: this.size,
      pid: process.pid,
      aborting: this.#options.isAborting(),
      ...(this.#options.abortReason?.() ? { abortReason: this.#options.abortReason()! } : {}),
      ranks: this.#slots.map((s) => {
        const busyMs = s.exit || s.finalized ? undefined : s.activity.busyMs();
        return {
          rank: s.rank,
          pid: s.pid,
          state: stateOf(s),
          ...(s.exit ? { exit: s.exit } : {}),
          ...(busyMs !== undefined ? { busyMs } : {}),
          ...(!s.exit && !s.finalized && this.#stoppedPid(s.rank) !== undefined ? { stopped: true } : {}),
        };
      }),
    };
  }

  abort(message: string, exitCode = 1): void {
    this.#options.abort(message, exitCode);
  }

  // ---- internals -----------------------------------------------------------------------------

  #deliver(rank: number, message: Request): RankFailure | null {
    const slot = this.#slots[rank]!;
    if (slot.exit) return { code: 'ERR_SWITCHYARD_RANK_EXITED', why: `${describeExit(slot.exit)} before the request was sent` };
    if (slot.finalized) return { code: 'ERR_SWITCHYARD_RANK_FINALIZED', why: 'has finalized' };
    if (slot.away) return { code: 'ERR_SWITCHYARD_RANK_DISCONNECTED', why: 'is away: being moved to another host' };
    if (slot.connection) slot.connection.send(message);
    else if (slot.connected) return { code: 'ERR_SWITCHYARD_RANK_DISCONNECTED', why: 'closed its out-of-band connection' };
    else slot.queued.push(message);
    return null;
  }

  /** The rank will answer nothing more and join no fence: fail what waits on it. */
  #rankGone(slot: RankSlot, request: RankFailure, fenceWhy: string): void {
    slot.queued.length = 0;
    this.#requests.rankGone(slot.rank, request);
    for (const failed of this.#fences.leave(slot.rank)) this.#failFence(failed, `rank ${slot.rank} ${fenceWhy}`);
  }

  closeFences(prefix: string, why: string): void {
    for (const failed of this.#fences.close(prefix, why)) this.#failFence(failed, this.#closedWhy(failed.closed!));
  }

  /** Why a closed fence cannot complete: its owner's reason, and each rank that had not joined it (stopped, busy, as seen here). */
  #closedWhy({ why, missing }: NonNullable<FailedFence['closed']>): string {
    if (!missing.length) return `it was closed before this rank joined it: ${why}`;
    const ranks = missing.map((rank) => {
      const note = this.#stoppedNote(rank) ?? this.#busyNote(rank);
      return `rank ${rank} did not join it${note ? ` (${note})` : ''}`;
    });
    return `${why}; ${ranks.join('; ')}`;
  }

  #failFence(failed: FailedFence, why: string): void {
    const reason = `fence '${failed.name}' (generation ${failed.generation}) cannot complete: ${why}`;
    for (const rank of failed.joined) {
      this.#slots[rank]!.connection?.send({
        type: 'fence.failed',
        name: failed.name,
        generation: failed.generation,
        reason,
        ...(failed.closed ? { closed: true } : {}),
      });
    }
  }

  #onRankMessage(slot: RankSlot, message: Message): void {
    const { rank } = slot;
    switch (message.type) {
      case 'modex.put':
        if (typeof message.name === 'string' && isPlainObject(message.data)) this.#fences.put(rank, message.name, message.data);
        else this.#protocolError(slot, 'modex.put needs a string name and an object data');
        return;
      case 'fence': {
        const { name, generation } = message;
        if (typeof name !== 'string' || !Number.isInteger(generation))
          return this.#protocolError(slot, 'fence needs a string name and an integer generation');
        const result = this.#fences.join(rank, name, generation as number);
        if (!result) return;
        if (isCompleted(result)) {
          const done = { type: 'fence.done', name, generation, table: result.table };
          for (const s of this.#slots) s.connection?.send(done);
        } else if (result.closed) this.#failFence(result, this.#closedWhy(result.closed));
        else {
          const why = result.gone.map((r) => `rank ${r} ${this.#goneWhy(r)}`).join('; ');
          this.#failFence(result, why);
        }
        return;
      }
      case 'reply':
        if (Number.isInteger(message.id)) this.#requests.reply(rank, message as Reply);
        return;
      case 'notify':
        for (const listener of this.#notifyListeners) {
          try {
            listener(rank, message.body);
          } catch (err) {
            this.#options.log(`a notify listener failed on a message of rank ${rank}: ${(err as Error).message}`);
          }
        }
        return;
      case 'peer.activity': {
        const peer = Number.isInteger(message.rank) ? this.#slots[message.rank as number] : undefined;
        if (!peer || !Number.isInteger(message.id)) {
          return this.#protocolError(slot, 'peer.activity needs an integer id and a rank of the job');
        }
        const gone = peer.exit || peer.finalized;
        const busyMs = gone ? undefined : peer.activity.busyMs();
        const freeForMs = gone ? undefined : peer.activity.freeForMs();
        const stoppedPid = gone ? undefined : this.#stoppedPid(message.rank as number);
        const reply = { type: 'peer.activity.reply', id: message.id, busyMs: busyMs ?? null, freeForMs: freeForMs ?? null };
        slot.connection?.send({ ...reply, stoppedPid: stoppedPid ?? null });
        return;
      }
      case 'abort': {
        const given = message.code;
        const code = Number.isInteger(given) && (given as number) > 0 && (given as number) < 256 ? (given as number) : 1;
        // The code as the application gave it: an exit status of 1 alone would hide a code of 0 or 300.
        const said = code === given ? `${code}` : `${JSON.stringify(given) ?? String(given)} (exit status 1: not 1 to 255)`;
        const text = typeof message.message === 'string' && message.message ? `: ${message.message}` : '';
        const abort = () => this.#options.abort(`rank ${rank} (pid ${slot.pid}) called abort with code ${said}${text}`, code);
        // A rank that vanished (SIGKILL) fails the others' waits at once, and they abort before its
        // exit is reaped: that exit is the job's cause, named first when it comes within the grace.
        const vanished = this.#slots.some((s) => s !== slot && s.connected && !s.connection && !s.finalized && !s.exit && !s.away);
        if (!vanished || this.#options.isAborting()) abort();
        else setTimeout(() => this.#options.isAborting() || abort(), VANISHED_PEER_GRACE_MS).unref();
        return;
      }
      case 'finalize.at-exit':
        slot.finalizingAtExit = true;
        return;
      case 'finalize':
        slot.finalized = true;
        this.#rankGone(slot, { code: 'ERR_SWITCHYARD_RANK_FINALIZED', why: 'finalized before answering' }, 'finalized');
        slot.connection?.send({ type: 'finalize.ack' });
        return;
      default:
        this.#protocolError(slot, `unknown message type '${message.type}'`);
    }
  }

  #goneWhy(rank: number): string {
    const slot = this.#slots[rank]!;
    if (slot.exit) return describeExit(slot.exit);
    if (slot.finalized) return 'finalized';
    return 'closed its out-of-band connection';
  }

  #protocolError(slot: RankSlot, what: string): void {
    this.#options.log(`rank ${slot.rank} sent a bad out-of-band message (${what}); ignored`);
  }

  async #onToolMessage(connection: FramedConnection, message: Message, caller: ToolCaller): Promise<void> {
    // The id only pairs a response with its message; a tool sending one message at a time may omit it.
    const id = Number.isInteger(message.id) ? (message.id as number) : null;
    if (message.type === 'request') {
      const ranks = message.ranks === 'all' ? 'all' : Array.isArray(message.ranks) ? (message.ranks as number[]) : null;
      if (!ranks) {
        connection.send({ type: 'response', id, ok: false, error: "ranks must be 'all' or an array of ranks" });
        return;
      }
      try {
        const replies = await this.request(ranks, message.body, typeof message.timeoutMs === 'number' ? message.timeoutMs : 10_000);
        connection.send({ type: 'response', id, ok: true, result: [...replies] });
      } catch (err) {
        const e = err as Error & { failures?: Map<number, string>; replies?: Map<number, unknown>; codes?: Map<number, RankFailureCode> };
        connection.send({
          type: 'response',
          id,
          ok: false,
          error: e.message,
          ...(e.failures ? { failures: [...e.failures] } : {}),
          ...(e.codes ? { codes: [...e.codes] } : {}),
          ...(e.replies ? { replies: [...e.replies] } : {}),
        });
      }
      return;
    }
    if (message.type === 'call') {
      const handler = typeof message.method === 'string' ? this.#toolHandlers.get(message.method) : undefined;
      if (!handler) {
        connection.send({
          type: 'response',
          id,
          ok: false,
          code: 'ERR_SWITCHYARD_UNKNOWN_METHOD',
          error: `unknown method '${String(message.method)}'`,
        });
        return;
      }
      const call = (async () => {
        try {
          connection.send({ type: 'response', id, ok: true, result: await handler(message.params, caller) });
        } catch (err) {
          const code = (err as { code?: unknown } | null)?.code;
          connection.send({
            type: 'response',
            id,
            ok: false,
            error: (err as Error).message ?? String(err),
            ...(typeof code === 'string' ? { code } : {}),
          });
        }
      })();
      this.#toolCalls.add(call);
      await call;
      this.#toolCalls.delete(call);
      return;
    }
    connection.send({ type: 'response', id, ok: false, error: `unknown message type '${message.type}'` });
  }
}

function stateOf(slot: RankSlot): RankState {
  if (slot.exit) return 'exited';
  if (slot.finalized) return 'finalized';
  if (slot.away) return 'away';
  if (slot.connection) return 'connected';
  return 'running';
}
