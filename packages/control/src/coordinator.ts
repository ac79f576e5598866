/**
 * The job's coordinator: the launcher-side half of the control plane. `switchyard ctl` reaches
 * it through the runtime's tool channel (tool calls `ctl`, `ctl.progress`, `ctl.status`); it
 * runs each verb as a two-phase operation over the ranks' control agents:
 *
 *   prepare (every rank checks it can do its part, changing nothing)
 *     -> any refusal or failure, or no rank would change anything: abort on every live rank,
 *        outcome `refused` (nothing changed)
 *     -> all agree: commit on every rank at once (drains and modex exchanges are collective),
 *        outcome `done`, or `failed` when a rank errs, dies or does not answer in time: then
 *        every live rank gets `rollback` and undoes what it did, and the result says per rank
 *        where it stands (`ranks`), so a failed undo is never silent.
 *
 * The verb's timeout bounds each phase; the ranks' drains get that time less a margin to answer,
 * so a drain that cannot finish fails the verb (and is rolled back) instead of hanging.
 *
 * One verb at a time: a second `ctl` call while one is in flight is refused at once. A rank that
 * answered too late (stopped, busy) may still hold a transaction; its abort is sent again ahead
 * of the next verb.
 */
import { serveRecoveryRequests } from './module-recovery.js';
import { hostname } from 'node:os';
import { isProcessRunning, processStart, readJobRecord, RequestError, type ControlHost, type RequestOptions } from '@switchyard/runtime';
import { groupRanks, pluralFailure, rankLabel, type RankGroup } from './coordinator-group.js';
import { saveOf, validateVerb, VerbError } from './coordinator-verb.js';
import { SwitchesInForce, type SwitchUndoneReport } from './switches-in-force.js';
import { watchFences } from './fence-watch.js';
import {
  describeVerb,
  TOOL_CTL,
  TOOL_CTL_PROGRESS,
  TOOL_CTL_STATUS,
  type AgentRequest,
  type CommitReply,
  type CtlErrorCode,
  type FencedPhase,
  type PrepareReply,
  type RankOutcome,
  type RankStatus,
  type RollbackReply,
  type Verb,
  type VerbProgress,
  type VerbResult,
  verbFencePrefix,
} from './protocol.js';

export const DEFAULT_PREPARE_TIMEOUT_MS = 10_000;
export const DEFAULT_COMMIT_TIMEOUT_MS = 60_000;
export const DEFAULT_STATUS_TIMEOUT_MS = 5_000;
/** How long a rank that closed its connection gets to be reaped, so its exit can be named. */
const EXIT_GRACE_MS = 1_000;

export interface CoordinatorOptions {
  /** How long each rank gets to answer `prepare` (default 10 s). */
  readonly prepareTimeoutMs?: number;
  /** How long each rank gets to finish `commit` (default 60 s). */
  readonly commitTimeoutMs?: number;
  /** How long each rank gets to answer `status` when the caller does not say (default 5 s). */
  readonly statusTimeoutMs?: number;
  /** How long each rank gets to confirm `abort` (default: the prepare timeout). */
  readonly abortTimeoutMs?: number;
  /** Where the coordinator reports what it did by itself (a failed transport reloaded); default stderr. */
  readonly log?: (line: string) => void;
}

/**
 * The params of the `ctl` tool call: a Verb, optionally with `timeoutMs`, how long each rank gets
 * for each phase of this verb (prepare, commit, abort) instead of the coordinator's defaults.
 * Only the Verb's own fields are forwarded to the ranks.
 */
export type CtlParams = Verb & { readonly timeoutMs?: number };

/** The longest per-verb timeout a tool may ask for (a day). */
export const MAX_VERB_TIMEOUT_MS = 86_400_000;

/** A rank that did not answer `ctl status`, listed in its place with why. */
export interface RankStatusFailure {
  readonly rank: number;
  readonly pid?: number;
  /** The launcher's view of the rank: running, connected, finalized or exited. */
  readonly state: string;
  readonly error: string;
}

/** The answer to the `ctl.status` tool call. */
export interface CtlStatus {
  readonly jobId: string;
  readonly size: number;
  /** The pid of the process that coordinates verbs: the launcher's, or a rank's under a PMIx launcher. */
  readonly pid: number;
  /** Under a PMIx launcher (srun, mpirun): which process coordinates, e.g. `rank process on node1`. */
  readonly controller?: string;
  readonly script: string;
  readonly args: readonly string[];
  /** ISO 8601 start time of the job. */
  readonly started: string;
  /** The verb in flight, if any. */
  readonly verb?: VerbProgress;
  /** The last verb that failed (until one is done): where each rank stood after its rollback. */
  readonly lastFailure?: { readonly verb: string; readonly ranks: readonly RankOutcome[] };
  readonly ranks: ReadonlyArray<RankStatus | RankStatusFailure>;
}

/** Parameters of the `ctl.status` tool call (all optional). */
export interface CtlStatusParams {
  readonly timeoutMs?: number;
}

export function isRankStatusFailure(r: RankStatus | RankStatusFailure): r is RankStatusFailure {
  return typeof (r as RankStatusFailure).error === 'string';
}

export interface Coordinator {
  /**
   * What the `ctl` tool call runs; never rejects for a verb's own failure (see the outcome).
   * `by`: who runs it when not an operator (a verb refused meanwhile as busy says so).
   */
  run(params: unknown, by?: string): Promise<VerbResult>;
  /** What the `ctl.progress` tool call answers. */
  progress(): VerbProgress;
  /** What the `ctl.status` tool call answers. */
  status(params?: unknown): Promise<CtlStatus>;
  /** Unregisters the tool calls. */
  uninstall(): void;
}

/** Registers the `ctl`, `ctl.progress` and `ctl.status` tool calls on a running job. */
export function installCoordinator(job: ControlHost, options: CoordinatorOptions = {}): Coordinator {
  const coordinator = new JobCoordinator(job, options);
  const facade: Coordinator = {
    run: (params, by) => coordinator.run(params, by),
    progress: () => coordinator.progress(),
    status: (params) => coordinator.status(params),
    uninstall: () => off.forEach((f) => f()),
  };
  const off = [
    job.onToolCall(TOOL_CTL, (params) => coordinator.run(params)),
    job.onToolCall(TOOL_CTL_PROGRESS, () => coordinator.progress()),
    job.onToolCall(TOOL_CTL_STATUS, (params) => coordinator.status(params)),
    serveRecoveryRequests(job, facade, options.log ?? ((line) => process.stderr.write(`${line}\n`))),
  ];
  return facade;
}

/** One rank's answer to a request: its reply, or why there is none. */
type Answer =
  | { readonly rank: number; readonly at: number; readonly ok: true; readonly reply: unknown }
  | { readonly rank: number; readonly at: number; readonly ok: false; readonly why: string };

/** Something to report about one rank: `at` orders reports by when they happened. */
interface Report {
  readonly rank: number;
  readonly text: string;
  readonly at: number;
  /** `: ` for a rank's own reason ("rank 2: no device"), ` ` for the runtime's account ("rank 2 exited ..."). */
  readonly sep: ': ' | ' ';
  readonly code?: CtlErrorCode;
}

interface Flight {
  readonly verb: string;
  /** Who runs it when not an operator. */
  readonly by: string | undefined;
  phase: NonNullable<VerbProgress['phase']>;
  done: number;
  total: number;
  /** Ranks the phase has no answer from yet. */
  readonly waiting: Set<number>;
  /** No --timeout: a rank busy in application code is waited for while it is alive. */
  readonly patient: boolean;
}

type VerbIssue = VerbResult['errors'][number];

class JobCoordinator {
  readonly #job: ControlHost;
  readonly #prepareTimeoutMs: number;
  readonly #commitTimeoutMs: number;
  readonly #statusTimeoutMs: number;
  readonly #abortTimeoutMs: number;
  #txn = 0;
  /**
   * Transactions a rank may still hold: it did not answer prepare or commit in time (a stopped or
   * busy rank answers late), or did not confirm the abort. Their abort is sent again ahead of the
   * next verb's prepare, so a prepare that completed after its abort cannot block the next verb.
   */
  readonly #inDoubt = new Map<number, Set<number>>();
  #flight: Flight | undefined;
  /** The `checkpoint save` that prepared the job and has not continued it yet. */
  #save: { pid: number; start: string | undefined; told: boolean } | undefined;
  /** The launcher's own output: what the job's terminal (or log) is told. */
  readonly #log: (line: string) => void;
  #lastFailure: CtlStatus['lastFailure'];
  readonly #switches = new SwitchesInForce();

  constructor(job: ControlHost, options: CoordinatorOptions) {
    this.#job = job;
    this.#prepareTimeoutMs = positive(options.prepareTimeoutMs, DEFAULT_PREPARE_TIMEOUT_MS, 'prepareTimeoutMs');
    this.#commitTimeoutMs = positive(options.commitTimeoutMs, DEFAULT_COMMIT_TIMEOUT_MS, 'commitTimeoutMs');
    this.#statusTimeoutMs = positive(options.statusTimeoutMs, DEFAULT_STATUS_TIMEOUT_MS, 'statusTimeoutMs');
    this.#abortTimeoutMs = positive(options.abortTimeoutMs, this.#prepareTimeoutMs, 'abortTimeoutMs');
    this.#log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  progress(): VerbProgress {
    const f = this.#flight;
    return f ? { verb: f.verb, phase: f.phase, done: f.done, total: f.total, ...this.#busyWaiting(f) } : { done: 0, total: this.#job.size };
  }

  /** The ranks `flight` waits for that are busy in application code, if any. */
  #busyWaiting(flight: Flight): { busy?: VerbProgress['busy'] } {
    const ranks = this.#job.status().ranks;
    const busy = [...flight.waiting]
      .sort((a, b) => a - b)
      .flatMap((rank) => {
        const forMs = ranks[rank]?.busyMs;
        return forMs === undefined ? [] : [{ rank, forMs }];
      });
    return busy.length ? { busy } : {};
  }

  async run(params: unknown, by?: string): Promise<VerbResult> {
    const outcome = await this.#run(params, by);
    this.#followSave(params, outcome);
    return outcome;
  }

  /**
   * A `checkpoint save` holds the job from its prepare to its continue (it closes its connection
   * while CRIU dumps the job, so it is known by its process); it lets go by continuing, or by
   * ending (a save killed meanwhile, a job restored from its images).
   */
  #followSave(params: unknown, outcome: VerbResult): void {
    let pid: number | undefined;
    try {
      pid = saveOf(params);
    } catch {
      return;
    }
    if (pid === undefined) return;
    const { phase, saveTo, leaveRunning } = params as { phase?: unknown; saveTo?: unknown; leaveRunning?: unknown };
    if (phase === 'prepare' && outcome.ok) {
      // CRIU ends the launcher once the job is saved: its terminal (or log) learns why, and what brings the job back.
      const told = typeof saveTo === 'string' && leaveRunning !== true;
      if (told) {
        this.#log(
          `switchyard: job ${this.#job.jobId}: checkpoint save (pid ${pid}) is saving it to ${saveTo}; once saved, this launcher and ` +
            `its ranks are stopped (a shell says 'Killed', exit status 137), and 'switchyard restore ${saveTo}' resumes the job`,
        );
      }
      this.#save = { pid, start: processStart(pid), told };
    } else if (phase !== 'prepare' && this.#save?.pid === pid) {
      if (this.#save.told) this.#log(`switchyard: job ${this.#job.jobId}: checkpoint save (pid ${pid}) did not save it; it runs on`);
      this.#save = undefined;
    }
  }

  /** The pid of the checkpoint save holding the job, if it is still running. */
  #saveUnderWay(): number | undefined {
    const save = this.#save;
    if (save && isProcessRunning(save.pid) && processStart(save.pid) === save.start) return save.pid;
    this.#save = undefined;
    return undefined;
  }

  async #run(params: unknown, by: string | undefined): Promise<VerbResult> {
    const started = performance.now();
    const result = (
      outcome: VerbResult['outcome'],
      verb: string,
      errors: VerbIssue[],
      changes: VerbResult['changes'] = [],
    ): VerbResult => ({
      ok: outcome === 'done',
      outcome,
      verb,
      ms: round(performance.now() - started),
      changes,
      errors,
    });

    let verb: Verb;
    let timeouts: { prepare: number; commit: number; abort: number };
    let from: number | undefined;
    try {
      verb = validateVerb(params, this.#job.size);
      from = saveOf(params);
      const asked = verbTimeout(params);
      timeouts = asked
        ? { prepare: asked, commit: asked, abort: asked }
        : { prepare: this.#prepareTimeoutMs, commit: this.#commitTimeoutMs, abort: this.#abortTimeoutMs };
    } catch (err) {
      if (!(err instanceof VerbError)) throw err;
      return result('refused', roughLabel(params), [{ message: err.message }]);
    }
    const label = describeVerb(verb);
    // Checked and set with no await in between: two calls cannot both get past here.
    if (this.#flight) {
      const { verb: running, by: whose } = this.#flight;
      const message = `another verb is in progress: ${running}${whose ? ` (${whose}; try again in a moment)` : ''}`;
      return result('refused', label, [{ code: 'ERR_CTL_BUSY', message }]);
    }
    const save = this.#saveUnderWay();
    if (save !== undefined && from !== save) {
      const message = `a checkpoint save (pid ${save}) is in progress: it continues the job or undoes its prepare when it is done`;
      return result('refused', label, [{ code: 'ERR_CTL_BUSY', message }]);
    }
    if (this.#job.status().aborting) return result('refused', label, [this.#abortNote()]);

    const txn = ++this.#txn;
    const flight: Flight = {
      verb: label,
      by,
      phase: 'prepare',
      done: 0,
      total: this.#job.size,
      waiting: new Set(),
      patient: verbTimeout(params) === undefined,
    };
    this.#flight = flight;
    try {
      this.#resendAborts(timeouts.abort);
      // ---- phase 1: prepare on every rank (they all take part; --ranks only limits what each does)
      const drainTimeoutMs = drainBudget(timeouts.commit);
      const prepared = await this.#ask(
        this.#allRanks(),
        { ctl: 'prepare', txn, verb, drainTimeoutMs },
        timeouts.prepare,
        flight,
        'prepare',
      );
      const refusals: Report[] = [];
      for (const a of prepared) {
        if (!a.ok) refusals.push(this.#lost(a));
        else if (!isPrepareReply(a.reply))
          refusals.push({
            rank: a.rank,
            at: a.at,
            sep: ' ',
            code: 'ERR_CTL_NO_ANSWER',
            text: `gave an invalid answer to prepare: ${preview(a.reply)}`,
          });
        else if (!a.reply.ok)
          refusals.push({
            rank: a.rank,
            at: a.at,
            sep: ': ',
            code: a.reply.code ?? 'ERR_CTL_REFUSED',
            text: stripRank(a.rank, a.reply.reason),
          });
      }
      // Every rank takes part but none would change anything (e.g. `load` of a transport loaded
      // and healthy everywhere): refused with their reasons.
      const unchanged = prepared.flatMap((a) =>
        a.ok && isPrepareReply(a.reply) && a.reply.ok && a.reply.unchanged ? [{ a, why: a.reply.unchanged }] : [],
      );
      if (!refusals.length && unchanged.length === prepared.length) {
        for (const { a, why } of unchanged)
          if (why.reason) refusals.push({ rank: a.rank, at: a.at, sep: ': ', code: why.code, text: stripRank(a.rank, why.reason) });
      }
      if (refusals.length) {
        // Reasons in rank order: they are independent answers to the same question.
        const errors = rankErrors(refusals, (g) => g.ranks[0]!);
        const agreed = new Set(prepared.filter((a) => a.ok && isPrepareReply(a.reply) && a.reply.ok).map((a) => a.rank));
        for (const a of prepared) if (!a.ok) this.#doubt(a.rank, txn);
        // A rank died and takes the job with it (MPI's errors-are-fatal): nothing to roll back.
        if (this.#job.status().aborting) errors.push(this.#abortNote());
        else errors.push(...(await this.#abort(txn, flight, timeouts.abort, (rank) => agreed.has(rank))));
        return result('refused', label, errors);
      }

      // ---- phase 2: commit on every rank at once
      const committed = await this.#fenced(txn, 'commit', drainTimeoutMs, flight, () =>
        this.#ask(this.#allRanks(), { ctl: 'commit', txn }, timeouts.commit, flight, 'commit'),
      );
      const changes: Array<{ rank: number; changes: string[] }> = [];
      const failures: Report[] = [];
      for (const a of committed) {
        if (!a.ok) failures.push(this.#lost(a));
        else if (!isCommitReply(a.reply))
          failures.push({
            rank: a.rank,
            at: a.at,
            sep: ' ',
            code: 'ERR_CTL_NO_ANSWER',
            text: `gave an invalid answer to commit: ${preview(a.reply)}`,
          });
        else {
          if (a.reply.changes.length) changes.push({ rank: a.rank, changes: [...a.reply.changes] });
          if (!a.reply.ok)
            failures.push({
              rank: a.rank,
              at: a.at,
              sep: ': ',
              code: a.reply.code ?? 'ERR_CTL_COMMIT_FAILED',
              text: stripRank(a.rank, a.reply.error ?? 'commit failed without saying why'),
            });
        }
      }
      if (!failures.length) {
        this.#lastFailure = undefined;
        const jobChanges = this.#jobChanges(verb, committed);
        this.#switches.note(verb);
        return { ...result('done', label, [], changes), ...(jobChanges.length ? { jobChanges } : {}) };
      }
      for (const a of committed) if (!a.ok) this.#doubt(a.rank, txn);

      // Failures in the order they happened: the first is usually the cause of the others.
      const errors = rankErrors(failures, (g) => Math.min(...failures.filter((f) => g.ranks.includes(f.rank)).map((f) => f.at)));
      if (this.#job.status().aborting) {
        // A rank died and took the job with it: the others are being stopped, nothing to roll back.
        errors.push(this.#abortNote());
        return result('failed', label, errors, changes);
      }
      // ---- phase 3: every live rank undoes its part (undoing an unload is a collective load)
      const applied = committed.filter((a) => a.ok && isCommitReply(a.reply) && a.reply.ok).map((a) => a.rank);
      // A rank that did not answer its commit because its process is stopped cannot answer its
      // rollback either: it gets it (carried out once the rank resumes, after its commit, which
      // fails at the closed steps) and is not waited for, so the verb ends with the others.
      const stopped = new Set(this.#job.status().ranks.flatMap((r) => (r.stopped ? [r.rank] : [])));
      const resumesLater = new Set(committed.filter((a) => !a.ok && stopped.has(a.rank)).map((a) => a.rank));
      const live = this.#liveRanks().filter((r) => !resumesLater.has(r));
      // A short --timeout bounds the verb, not its repair: the rollback gets at least ROLLBACK_MIN_MS.
      const undoMs = Math.max(timeouts.commit, ROLLBACK_MIN_MS);
      const undo = { ctl: 'rollback' as const, txn, applied, unloadedBy: unloadedBy(committed), drainTimeoutMs: drainBudget(undoMs) };
      if (resumesLater.size) void this.#ask([...resumesLater], undo, undoMs);
      const rolledBack = await this.#fenced(txn, 'rollback', undo.drainTimeoutMs, flight, () =>
        this.#ask(live, undo, undoMs, flight, 'rollback'),
      );
      const ranks = outcomes(committed, rolledBack, resumesLater);
      errors.push(...rollbackErrors(rolledBack));
      this.#lastFailure = { verb: label, ranks };
      return { ...result('failed', label, errors, changes), ranks };
    } finally {
      this.#flight = undefined;
    }
  }

  async status(params?: unknown): Promise<CtlStatus> {
    const requested = (params as CtlStatusParams | undefined)?.timeoutMs;
    const timeoutMs =
      Number.isInteger(requested) && (requested as number) > 0 ? Math.min(requested as number, MAX_VERB_TIMEOUT_MS) : this.#statusTimeoutMs;
    const record = readJobRecord(this.#job.jobDir);
    // A rank busy in application code is answered for by its last snapshot.
    const answers = await this.#ask(this.#allRanks(), { ctl: 'status' }, timeoutMs, undefined, undefined, { whileBusy: 'snapshot' });
    const states = this.#job.status().ranks;
    const ranks = answers.map((a): RankStatus | RankStatusFailure => {
      if (a.ok && isRankStatus(a.reply)) return a.reply;
      const state = states[a.rank];
      return {
        rank: a.rank,
        ...(state?.pid !== undefined ? { pid: state.pid } : {}),
        state: state?.state ?? 'unknown',
        error: a.ok ? `gave an invalid answer to status: ${preview(a.reply)}` : a.why,
      };
    });
    return {
      jobId: this.#job.jobId,
      size: this.#job.size,
      pid: process.pid,
      ...(record?.launcher === 'pmix' ? { controller: `rank process on ${record.host ?? hostname()}` } : {}),
      script: record?.script ?? '',
      args: record?.args ?? [],
      started: record?.startTime ?? '',
      ...(this.#flight ? { verb: this.progress() } : {}),
      ...(this.#lastFailure ? { lastFailure: this.#lastFailure } : {}),
      ranks,
    };
  }

  /** What a verb done on every rank changed for the whole job: a reset names the switches it undid once. */
  #jobChanges(verb: Verb, committed: readonly Answer[]): string[] {
    if (verb.verb !== 'reset') return [];
    const reports = committed.flatMap((a): SwitchUndoneReport[] =>
      a.ok && isCommitReply(a.reply) && a.reply.switchUndone ? [{ rank: a.rank, undone: a.reply.switchUndone }] : [],
    );
    const line = this.#switches.describeUndo(verb, reports);
    return line ? [line] : [];
  }

  #allRanks(): number[] {
    return Array.from({ length: this.#job.size }, (_, r) => r);
  }

  /** A rank without an answer, as a report. */
  #lost(a: Answer & { ok: false }): Report {
    return { rank: a.rank, at: a.at, sep: ' ', code: 'ERR_CTL_NO_ANSWER', text: a.why };
  }

  /**
   * Said when a verb meets a job being aborted: what made the launcher abort it (the rank that
   * ended first), not only the ranks it then stopped, which are the ones a verb waits on.
   */
  #abortNote(): { message: string; code: CtlErrorCode } {
    const why = this.#job.status().abortReason;
    return { code: 'ERR_CTL_JOB_ABORTING', message: why ? `the job is being aborted: ${why}` : 'the job is being aborted' };
  }

  /**
   * Why a rank gave no answer. A rank that died is first seen closing its connection, a moment
   * before the launcher reaps it: wait that moment (bounded) so the reason says how it ended.
   */
  async #whyLost(rank: number, err: unknown): Promise<string> {
    const why = failureOf(err, rank);
    if (!(err instanceof RequestError) || err.codes.get(rank) !== 'ERR_SWITCHYARD_RANK_DISCONNECTED') return why;
    const deadline = performance.now() + EXIT_GRACE_MS;
    for (;;) {
      const exit = this.#job.status().ranks[rank]?.exit;
      if (exit) return `${describeExit(exit)} before answering`;
      if (performance.now() > deadline) return why;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  #doubt(rank: number, txn: number): void {
    const txns = this.#inDoubt.get(rank) ?? new Set<number>();
    txns.add(txn);
    // A rank that stays silent for many verbs keeps only its latest few.
    if (txns.size > 16) txns.delete(txns.values().next().value!);
    this.#inDoubt.set(rank, txns);
  }

  /**
   * Aborts again what ranks may still hold. Not awaited: a rank's requests are answered in the
   * order they arrive, so the abort is handled before the prepare that follows it.
   */
  #resendAborts(timeoutMs: number): void {
    const live = new Set(this.#liveRanks());
    for (const [rank, txns] of this.#inDoubt) {
      if (!live.has(rank)) {
        this.#inDoubt.delete(rank);
        continue;
      }
      for (const txn of txns) {
        void this.#job.request([rank], { ctl: 'abort', txn } satisfies AgentRequest, timeoutMs).then(
          () => {
            txns.delete(txn);
            if (txns.size === 0 && this.#inDoubt.get(rank) === txns) this.#inDoubt.delete(rank);
          },
          () => {},
        );
      }
    }
  }

  /** The ranks that can still answer (not exited, not finalized). */
  #liveRanks(): number[] {
    return this.#job
      .status()
      .ranks.filter((r) => r.state === 'running' || r.state === 'connected')
      .map((r) => r.rank);
  }

  /**
   * Runs a phase whose ranks meet in collective steps (a load's exchange): those still open when
   * its budget is spent are closed, so ranks waiting there for one that will not join answer.
   */
  async #fenced(txn: number, phase: FencedPhase, budgetMs: number, flight: Flight, ask: () => Promise<Answer[]>): Promise<Answer[]> {
    const what = `the ${phase} of '${flight.verb}'`;
    const stop = watchFences(this.#job, { prefix: verbFencePrefix(txn, phase), budgetMs, patient: flight.patient, what });
    try {
      return await ask();
    } finally {
      stop();
    }
  }

  /**
   * Sends `body` to each rank separately (so progress counts answers as they come) and resolves
   * once every rank answered, failed, died or timed out.
   */
  async #ask(
    ranks: number[],
    body: AgentRequest,
    timeoutMs: number,
    flight?: Flight,
    phase?: Flight['phase'],
    options?: RequestOptions,
  ): Promise<Answer[]> {
    if (flight && phase) {
      flight.phase = phase;
      flight.done = 0;
      flight.total = ranks.length;
      flight.waiting.clear();
      for (const rank of ranks) flight.waiting.add(rank);
    }
    let order = 0;
    const counted = (answer: Answer): Answer => {
      if (flight && flight.phase === phase) {
        flight.done++;
        flight.waiting.delete(answer.rank);
      }
      return answer;
    };
    // Without --timeout, a rank busy in application code is waited for: the verb takes effect
    // there when its code next waits.
    const asked = options ?? (flight?.patient ? { whileBusy: 'wait' as const } : {});
    return Promise.all(
      ranks.map((rank) =>
        this.#job.request([rank], body, timeoutMs, asked).then(
          (replies) => counted({ rank, at: order++, ok: true, reply: replies.get(rank) }),
          async (err: unknown) => {
            // Ordered by when the rank failed, not by when its exit was learned.
            const at = order++;
            const why = await this.#whyLost(rank, err);
            return counted({ rank, at, ok: false, why });
          },
        ),
      ),
    );
  }

  /**
   * Sends `abort` to every live rank and waits for those that may hold something of `txn`
   * (`holding`); a rank that never agreed gets it too (it may still be preparing: the abort follows
   * the prepare on its channel) but is not waited for. Returns errors for the unconfirmed.
   */
  async #abort(txn: number, flight: Flight, timeoutMs: number, holding: (rank: number) => boolean): Promise<VerbIssue[]> {
    const live = this.#liveRanks();
    const others = live.filter((r) => !holding(r));
    // #ask never rejects: every rank's failure is an answer.
    if (others.length) void this.#ask(others, { ctl: 'abort', txn }, timeoutMs);
    const answers = await this.#ask(live.filter(holding), { ctl: 'abort', txn }, timeoutMs, flight, 'abort');
    for (const a of answers) if (!a.ok) this.#doubt(a.rank, txn);
    const unconfirmed = answers
      .filter((a): a is Answer & { ok: false } => !a.ok && holding(a.rank))
      .map((a): [number, string] => [a.rank, this.#lost(a).text]);
    return groupRanks(unconfirmed).map((g) => ({
      ...(g.ranks.length === 1 ? { rank: g.ranks[0]! } : {}),
      code: 'ERR_CTL_NO_ANSWER' as const,
      message: `${rankLabel(g.ranks)} did not confirm the abort: ${g.value}`,
    }));
  }
}

/**
 * The least time a rollback gets, whatever the verb's --timeout: a drain cut short leaves the
 * ranks partly changed, which the timeout was meant to prevent.
 */
const ROLLBACK_MIN_MS = 10_000;

/** What a rank's drains may take in all: the verb's commit timeout less a margin to answer in. */
function drainBudget(commitTimeoutMs: number): number {
  return Math.max(1, Math.floor(commitTimeoutMs - Math.min(2000, commitTimeoutMs / 4)));
}

/** Per component, the ranks whose commit (done or failed) reported unloading it. */
function unloadedBy(committed: readonly Answer[]): Record<string, number[]> {
  const by: Record<string, number[]> = {};
  for (const a of committed) {
    if (!a.ok || !isCommitReply(a.reply)) continue;
    for (const c of a.reply.unloaded ?? []) (by[c] ??= []).push(a.rank);
  }
  return by;
}

/** Where each rank stands after a failed commit and its rollback. */
function outcomes(committed: readonly Answer[], rolledBack: readonly Answer[], resumesLater: ReadonlySet<number>): RankOutcome[] {
  return committed.map((c): RankOutcome => {
    const r = rolledBack.find((a) => a.rank === c.rank);
    const commit = c.ok && isCommitReply(c.reply) ? c.reply : undefined;
    // A rank that did not answer its commit may still be carrying it out: nobody can say.
    if (!c.ok) {
      const later = resumesLater.has(c.rank) ? '; it carries out the rollback when it resumes' : '';
      return { rank: c.rank, state: 'unknown', applied: [], error: `${c.why}${later}`, code: 'ERR_CTL_NO_ANSWER' };
    }
    const changed = commit ? commit.ok || commit.changes.length > 0 : true;
    if (!r || !r.ok || !isRollbackReply(r.reply)) {
      const why = !r ? 'not live for the rollback' : r.ok ? `gave an invalid answer to rollback: ${preview(r.reply)}` : r.why;
      return { rank: c.rank, state: 'unknown', applied: commit?.changes ?? [], error: why, code: 'ERR_CTL_NO_ANSWER' };
    }
    const reply = r.reply;
    if (!reply.ok)
      return {
        rank: c.rank,
        state: 'partial',
        applied: [...reply.applied],
        error: stripRank(c.rank, reply.error ?? 'rollback failed'),
        code: reply.code ?? 'ERR_CTL_ROLLBACK_FAILED',
      };
    return { rank: c.rank, state: changed || reply.undone.length ? 'rolled-back' : 'unchanged', applied: [] };
  });
}

/** One error per distinct rollback failure: the ranks left partly changed, and what stays. */
function rollbackErrors(rolledBack: readonly Answer[]): VerbIssue[] {
  const reports: Report[] = [];
  for (const a of rolledBack) {
    if (!a.ok)
      reports.push({ rank: a.rank, at: a.at, sep: ' ', code: 'ERR_CTL_NO_ANSWER', text: `did not confirm the rollback: ${a.why}` });
    else if (!isRollbackReply(a.reply))
      reports.push({
        rank: a.rank,
        at: a.at,
        sep: ' ',
        code: 'ERR_CTL_NO_ANSWER',
        text: `gave an invalid answer to rollback: ${preview(a.reply)}`,
      });
    else if (!a.reply.ok) {
      const still = a.reply.applied.length ? ` (still applied: ${a.reply.applied.join('; ')})` : '';
      reports.push({
        rank: a.rank,
        at: a.at,
        sep: ': ',
        code: a.reply.code ?? 'ERR_CTL_ROLLBACK_FAILED',
        text: `${stripRank(a.rank, a.reply.error ?? 'rollback failed')}${still}`,
      });
    }
  }
  return rankErrors(reports, (g) => g.ranks[0]!);
}

/**
 * Errors naming ranks, one per distinct reason: `ranks 0-3: would leave rank 2 without a
 * transport` (a rank's own reason) or `rank 3 did not answer within 60000 ms` (the runtime's
 * account of a rank), ordered by `orderOf` of each group.
 */
function rankErrors(reports: readonly Report[], orderOf: (group: RankGroup<Report>) => number): VerbIssue[] {
  const groups = groupRanks(
    reports.map((r) => [r.rank, r] as const),
    (r) => `${r.code ?? ''}${r.sep}${r.text}`,
  );
  return groups
    .map((g) => ({ g, order: orderOf(g) }))
    .sort((a, b) => a.order - b.order)
    .map(({ g }) => ({
      ...(g.ranks.length === 1 ? { rank: g.ranks[0]! } : {}),
      ...(g.value.code ? { code: g.value.code } : {}),
      message: namesItself(g)
        ? g.value.text
        : `${rankLabel(g.ranks)}${g.value.sep}${g.value.sep === ' ' ? pluralFailure(g.value.text, g.ranks.length) : g.value.text}`,
    }));
}

/** A single rank's own reason that already starts with its name ("rank 2 is in the middle of ..."). */
function namesItself(g: RankGroup<Report>): boolean {
  return g.ranks.length === 1 && g.value.sep === ': ' && g.value.text.startsWith(`rank ${g.ranks[0]} `);
}

/** "exited with code 3", "was killed by signal SIGTERM": how the launcher words a rank's end. */
function describeExit(exit: { readonly code: number | null; readonly signal: string | null }): string {
  return exit.signal ? `was killed by signal ${exit.signal}` : `exited with code ${exit.code ?? 'unknown'}`;
}

/** Why `rank` has no answer, as the runtime words it ("did not answer within 10000 ms"). */
function failureOf(err: unknown, rank: number): string {
  if (err instanceof RequestError) return err.failures.get(rank) ?? err.message;
  return err instanceof Error ? err.message : String(err);
}

/** Agents often start their reasons with "rank N: "; the coordinator adds the rank itself. */
function stripRank(rank: number, text: string): string {
  return text.startsWith(`rank ${rank}: `) ? text.slice(`rank ${rank}: `.length) : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPrepareReply(value: unknown): value is PrepareReply {
  return isObject(value) && (value.ok === true || (value.ok === false && typeof value.reason === 'string'));
}

function isCommitReply(value: unknown): value is CommitReply {
  return (
    isObject(value) &&
    typeof value.ok === 'boolean' &&
    Array.isArray(value.changes) &&
    value.changes.every((c) => typeof c === 'string') &&
    (value.error === undefined || typeof value.error === 'string')
  );
}

function isRollbackReply(value: unknown): value is RollbackReply {
  return isObject(value) && typeof value.ok === 'boolean' && Array.isArray(value.undone) && Array.isArray(value.applied);
}

function isRankStatus(value: unknown): value is RankStatus {
  return (
    isObject(value) &&
    Number.isInteger(value.rank) &&
    Array.isArray(value.components) &&
    Array.isArray(value.peers) &&
    Array.isArray(value.traffic)
  );
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** The `timeoutMs` of a `ctl` call's params, when it has a valid one. */
function verbTimeout(params: unknown): number | undefined {
  const value = isObject(params) ? params.timeoutMs : undefined;
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_VERB_TIMEOUT_MS) {
    throw new VerbError(`timeoutMs must be a whole number of milliseconds from 1 to ${MAX_VERB_TIMEOUT_MS}, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

/** A label for a verb that did not validate. */
function roughLabel(params: unknown): string {
  const name = isObject(params) ? params.verb : undefined;
  return typeof name === 'string' && name ? name : '(no verb)';
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a positive number of milliseconds, got ${value}`);
  return value;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
