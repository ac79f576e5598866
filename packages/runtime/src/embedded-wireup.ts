import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { ActivityMonitor } from './activity-monitor.js';
import { FenceClosedError, WireUpError } from './errors.js';
import type { FramedConnection } from './framed-connection.js';
import { launcherAlive, removeOrphanedJobDir, stoppedProcessNote } from './launcher-alive.js';
import { readJobRecord } from './list-jobs.js';
import { openOobConnection } from './oob-client.js';
import type { Message, Request } from './protocol.js';
import { SocketHold } from './socket-hold.js';
import type { PeerActivityState, WireUp, WireUpOptions } from './wireup.js';
import { readRankEnvironment, type RankEnvironment } from './wireup-env.js';

/** How long a rank that lost its launcher waits for the killed process to be gone before it leaves the folder. */
const LAUNCHER_GONE_WAIT_MS = 1_000;
/** How long a question about a peer's activity waits for the launcher (unanswered: not known busy). */
const PEER_QUESTION_TIMEOUT_MS = 2_000;
/** How long finalize() waits for the launcher's acknowledgement before closing anyway. */
const FINALIZE_ACK_TIMEOUT_MS = 5000;
/** After abort(), how long to wait for the launcher to kill us before exiting by ourselves. */
const ABORT_EXIT_DELAY_MS = 5000;
/** While away (being moved to another host), how often the rank looks for the launcher's word to come back. */
const RETURN_POLL_MS = 100;
/** Every how many of those polls it also checks that its launcher still runs. */
const LAUNCHER_CHECK_POLLS = 10;

type State = 'open' | 'finalizing' | 'finalized' | 'aborting' | 'lost' | 'away';

interface PendingFence {
  resolve(table: Array<Record<string, unknown>>): void;
  reject(error: Error): void;
}

/** The wire-up of a rank started by `switchyard run`: everything goes over the HNP's OOB socket. */
export class EmbeddedWireUp implements WireUp {
  readonly kind = 'embedded';
  readonly jobId: string;
  readonly rank: number;
  readonly size: number;
  readonly secret: string;
  readonly mcaCommandLine: Array<[string, string]>;

  #connection!: FramedConnection;
  #hold!: SocketHold;
  #state: State = 'open';
  readonly #onLost: (error: Error) => void;
  readonly #generations = new Map<string, number>();
  readonly #fences = new Map<string, PendingFence>();
  #requestHandler: ((body: unknown) => Promise<unknown> | unknown) | null = null;
  readonly #waitingRequests: Request[] = [];
  #finalizeAcked: (() => void) | null = null;
  #finalizing: Promise<void> | null = null;
  #abortExit: (() => void) | null = null;
  #monitor: ActivityMonitor | undefined;
  #snapshot: (() => unknown) | undefined;
  /** While away: settles once the rank said hello again from where it was moved to. */
  #back: Promise<void> | undefined;
  /** Questions about peers' activity awaiting the launcher's answer, by id. */
  readonly #peerQuestions = new Map<number, (state: PeerActivityState | undefined) => void>();
  #nextQuestion = 0;
  readonly #hnpUri: string;
  readonly #env: RankEnvironment;

  private constructor(env: RankEnvironment, options: WireUpOptions) {
    this.jobId = env.jobId;
    this.rank = env.rank;
    this.size = env.size;
    this.secret = env.secret;
    this.mcaCommandLine = env.mcaCommandLine;
    this.#onLost = options.onLost ?? ((error) => exitOnLost(this.rank, this.jobId, error));
    this.#hnpUri = env.hnpUri;
    this.#env = env;
  }

  /** Connects to the launcher named in `env` and says hello as this rank. */
  static async connect(env: NodeJS.ProcessEnv, options: WireUpOptions = {}): Promise<EmbeddedWireUp> {
    return EmbeddedWireUp.connectTo(readRankEnvironment(env), options);
  }

  /**
   * Connects to the HNP at `rankEnv.hnpUri`: a Unix socket, or `tcp://HOST:PORT` for the controller
   * a rank runs when another launcher started the job (the PMIx wire-up's control channel).
   */
  static async connectTo(rankEnv: RankEnvironment, options: WireUpOptions = {}): Promise<EmbeddedWireUp> {
    const wireUp = new EmbeddedWireUp(rankEnv, options);
    try {
      await wireUp.#open(options.connectTimeoutMs);
    } catch (err) {
      // A launcher SIGKILLed before this rank reached it left its folder (and the secret in it).
      removeOrphanedJobDir(rankEnv.hnpUri, LAUNCHER_GONE_WAIT_MS);
      throw err;
    }
    return wireUp;
  }

  /** Says hello as this rank (at start, and again after a move) and starts the activity monitor. */
  async #open(connectTimeoutMs?: number): Promise<void> {
    const env = this.#env;
    const { connection, welcome } = await openOobConnection(
      env.hnpUri,
      { type: 'hello', role: 'rank', rank: env.rank, secret: env.secret, pid: process.pid },
      { message: (m) => this.#onMessage(m), close: (e) => this.#onClose(e, connection) },
      connectTimeoutMs,
    );
    if (welcome.jobId !== env.jobId) {
      connection.destroy();
      throw new WireUpError(`the launcher at ${env.hnpUri} runs job ${welcome.jobId}, not ${env.jobId}`);
    }
    this.#connection = connection;
    this.#hold = new SocketHold(connection.socket);
    this.#monitor = ActivityMonitor.start({ uri: env.hnpUri, jobId: env.jobId, rank: env.rank, secret: env.secret });
    if (this.#snapshot) this.#monitor?.publish(this.#snapshot);
  }

  async exchange(data: Record<string, unknown>, name = 'modex'): Promise<Array<Record<string, unknown>>> {
    // A rank being moved takes part once it is back, as the other ranks wait for it anyway.
    if (this.#state === 'away') await this.#back;
    this.#assertOpen('exchange');
    const table = this.#fence(name, data);
    return this.#hold.during(table);
  }

  async barrier(name = 'barrier'): Promise<void> {
    if (this.#state === 'away') await this.#back;
    this.#assertOpen('barrier');
    await this.#hold.during(this.#fence(name, undefined));
  }

  onRequest(handler: (body: unknown) => Promise<unknown> | unknown): void {
    this.#requestHandler = handler;
    for (const request of this.#waitingRequests.splice(0)) this.#answer(request);
  }

  publishSnapshot(provider: () => unknown): void {
    this.#snapshot = provider;
    this.#monitor?.publish(provider);
  }

  peerActivity(rank: number): Promise<PeerActivityState | undefined> {
    if (this.#state !== 'open') return Promise.resolve(undefined);
    const id = ++this.#nextQuestion;
    return new Promise((resolve) => {
      const timer = setTimeout(() => answer(undefined), PEER_QUESTION_TIMEOUT_MS);
      const answer = (state: PeerActivityState | undefined) => {
        clearTimeout(timer);
        this.#peerQuestions.delete(id);
        resolve(state);
      };
      this.#peerQuestions.set(id, answer);
      if (!this.#connection.send({ type: 'peer.activity', id, rank })) answer(undefined);
    });
  }

  notify(body: unknown): void {
    if (this.#state === 'away') return void this.#back?.then(() => this.notify(body));
    this.#assertOpen('notify');
    this.#connection.send({ type: 'notify', body });
  }

  /** Whether an abort() now reaches the launcher (the connection is up, not lost or being moved). */
  get reachesLauncher(): boolean {
    return this.#state === 'open' || this.#state === 'finalizing';
  }

  abort(code: number, message: string): Promise<never> {
    const exit = () => process.exit(code);
    this.#monitor?.stop();
    if (this.reachesLauncher) {
      this.#state = 'aborting';
      this.#hold.hold();
      this.#abortExit = exit;
      this.#connection.send({ type: 'abort', code, message });
      // The launcher kills every rank, this one included; exit by ourselves if it does not.
      setTimeout(exit, ABORT_EXIT_DELAY_MS);
    } else {
      process.stderr.write(`switchyard: rank ${this.rank} aborted with code ${code}: ${message}\n`);
      exit();
    }
    return new Promise<never>(() => {});
  }

  finalize(): Promise<void> {
    this.#finalizing ??= this.#doFinalize();
    return this.#finalizing;
  }

  finalizingAtExit(): void {
    if (this.#state === 'open') this.#connection.send({ type: 'finalize.at-exit' });
  }

  async #doFinalize(): Promise<void> {
    // A rank that is being moved finalizes once it is back: the launcher waits for its goodbye.
    if (this.#state === 'away') await this.#back;
    if (this.#state !== 'open') return;
    this.#state = 'finalizing';
    this.#monitor?.stop();
    this.#failFences(new WireUpError('the wire-up was finalized while this collective was in progress'));
    const acked = new Promise<void>((resolve) => {
      this.#finalizeAcked = resolve;
      setTimeout(resolve, FINALIZE_ACK_TIMEOUT_MS).unref();
    });
    this.#hold.hold();
    if (this.#connection.send({ type: 'finalize' })) await acked;
    this.#state = 'finalized';
    this.#connection.end();
    this.#hold.release();
  }

  #fence(name: string, data: Record<string, unknown> | undefined): Promise<Array<Record<string, unknown>>> {
    const generation = (this.#generations.get(name) ?? 0) + 1;
    this.#generations.set(name, generation);
    const table = new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
      this.#fences.set(`${name}#${generation}`, { resolve, reject });
    });
    if (data !== undefined) this.#connection.send({ type: 'modex.put', name, data });
    this.#connection.send({ type: 'fence', name, generation });
    return table;
  }

  #onMessage(message: Message): void {
    switch (message.type) {
      case 'fence.done':
      case 'fence.failed': {
        const key = `${String(message.name)}#${String(message.generation)}`;
        const pending = this.#fences.get(key);
        if (!pending) return;
        this.#fences.delete(key);
        if (message.type === 'fence.done') pending.resolve(message.table as Array<Record<string, unknown>>);
        else {
          const reason = String(message.reason);
          pending.reject(message.closed === true ? new FenceClosedError(reason) : new WireUpError(reason));
        }
        return;
      }
      case 'request':
        if (this.#requestHandler) this.#answer(message as Request);
        else this.#waitingRequests.push(message as Request);
        return;
      case 'finalize.ack':
        this.#finalizeAcked?.();
        return;
      case 'peer.activity.reply':
        this.#peerQuestions.get(message.id as number)?.(peerActivityState(message));
        return;
      case 'away':
        if (typeof message.returnFile === 'string') this.#goAway(message.returnFile);
        return;
      default:
      // Unknown messages come from a newer launcher; ignoring them keeps old ranks working.
    }
  }

  #answer(request: Request): void {
    const handler = this.#requestHandler!;
    const reply = (fields: { ok: true; body: unknown } | { ok: false; error: string }) => {
      if (this.#state !== 'open' && this.#state !== 'finalizing') return;
      try {
        this.#connection.send({ type: 'reply', id: request.id, ...fields });
      } catch (err) {
        // The body did not serialize (a cycle, a BigInt): tell the launcher rather than stay silent.
        this.#connection.send({ type: 'reply', id: request.id, ok: false, error: `reply is not JSON: ${(err as Error).message}` });
      }
    };
    // Run on a later tick, never inside the socket's read loop. The socket is held meanwhile: a
    // rank whose script is done still finishes the verb it is in before it finalizes at exit.
    void this.#hold
      .during(Promise.resolve().then(() => handler(request.body)))
      .then(
        (body) => reply({ ok: true, body }),
        (err: unknown) => reply({ ok: false, error: err instanceof Error ? err.message : String(err) }),
      );
  }

  /**
   * The launcher moves this rank to another host (`switchyard ctl migrate`): no connection of ours
   * to it may be open while CRIU saves this process, and the one after the restore comes from the
   * new host. The launcher writes `returnFile` once the rank runs where it goes (or the move was
   * given up): the rank then says hello again. What the application sends meanwhile waits in the PML.
   */
  #goAway(returnFile: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'away';
    let back!: () => void;
    this.#back = new Promise<void>((resolve) => (back = resolve));
    this.#monitor?.stop();
    this.#monitor = undefined;
    this.#connection.end();
    let polls = 0;
    const poll = setInterval(() => {
      // A job that ended meanwhile (its launcher gone, or killed) writes no return file: restored
      // after that, this process would wait for ever.
      if (++polls % LAUNCHER_CHECK_POLLS === 0 && !launcherRuns(dirname(returnFile))) {
        clearInterval(poll);
        this.#state = 'lost';
        this.#onLost(new WireUpError(`rank ${this.rank} was being moved when job ${this.jobId} ended (its launcher is gone)`));
        return;
      }
      if (!existsSync(returnFile)) return;
      clearInterval(poll);
      rmSync(returnFile, { force: true });
      void this.#open().then(
        () => {
          this.#state = 'open';
          back();
        },
        (err: unknown) => {
          this.#state = 'lost';
          this.#onLost(new WireUpError(`rank ${this.rank} could not rejoin job ${this.jobId} after its move: ${(err as Error).message}`));
        },
      );
    }, RETURN_POLL_MS);
  }

  #onClose(error: Error | undefined, connection?: FramedConnection): void {
    // The connection closed before a move is not the one in use now.
    if (this.#state === 'away' || (connection && connection !== this.#connection)) return;
    const state = this.#state;
    // A launcher that was SIGKILLed left its folder (and the secret in it): the ranks clean up.
    // Only a rank the launcher left without a goodbye gives it a moment to be gone.
    removeOrphanedJobDir(this.#hnpUri, state === 'open' ? LAUNCHER_GONE_WAIT_MS : 0);
    if (state === 'aborting') return this.#abortExit?.();
    if (state === 'finalized') return;
    this.#finalizeAcked?.();
    if (state === 'finalizing') return;
    this.#state = 'lost';
    this.#monitor?.stop();
    const lost = new WireUpError(
      `rank ${this.rank} lost its connection to the launcher (HNP) of job ${this.jobId}${error ? `: ${error.message}` : ''}`,
      { cause: error },
    );
    this.#failFences(lost);
    this.#onLost(lost);
  }

  #failFences(error: Error): void {
    for (const pending of this.#fences.values()) pending.reject(error);
    this.#fences.clear();
  }

  #assertOpen(what: string): void {
    if (this.#state !== 'open') throw new WireUpError(`cannot ${what}: rank ${this.rank}'s wire-up is ${this.#state}`);
  }
}

function exitOnLost(rank: number, jobId: string, error: Error): never {
  process.stderr.write(`switchyard: ${error.message}; rank ${rank} of job ${jobId} exits\n`);
  process.exit(1);
}

/** The launcher's answer about a peer; fields it does not send (an older launcher) are unknown. */
function peerActivityState(reply: Message): PeerActivityState {
  const ms = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined);
  const busyMs = ms(reply.busyMs);
  const freeForMs = ms(reply.freeForMs);
  const pid = Number.isInteger(reply.stoppedPid) && (reply.stoppedPid as number) > 0 ? (reply.stoppedPid as number) : undefined;
  const stopped = pid !== undefined ? { stopped: { pid, note: stoppedProcessNote(pid) } } : {};
  return { ...(busyMs !== undefined ? { busyMs } : {}), ...(freeForMs !== undefined ? { freeForMs } : {}), ...stopped };
}

/** Whether the launcher of job folder `jobDir` still runs (not once the folder or its record is gone). */
function launcherRuns(jobDir: string): boolean {
  const record = readJobRecord(jobDir);
  return record !== undefined && launcherAlive(record);
}
