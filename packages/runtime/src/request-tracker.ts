import { RequestError, type RankFailure } from './errors.js';
import type { Reply, Request } from './protocol.js';

/**
 * What the tracker needs from the job: hand `message` to `rank` now or once it connects, or say
 * why it never can (e.g. "exited with code 1").
 */
export type Deliver = (rank: number, message: Request) => RankFailure | null;

/**
 * What the tracker may learn of a rank busy in application code (it answers nothing until its
 * code yields, but its monitor says it is alive). Both are optional per request.
 */
export interface BusyView {
  /** What to answer for `rank` now, if it is busy and something can stand in for it. */
  standIn?(rank: number): unknown;
  /** The last performance.now() at which `rank` was known busy and alive: its wait restarts there. */
  lastBusy?(rank: number): number | undefined;
  /** Why `rank` did not answer, when the launcher can tell (stopped, or busy in application code): added to its timeout. */
  cannotAnswer?(rank: number): string | undefined;
}

/**
 * How long a busy rank gets to answer for itself before its snapshot stands in. A rank only
 * starved of CPU on a loaded host looks busy for a few hundred ms; its own answer is fresher.
 */
export const STAND_IN_AFTER_MS = 1_000;

interface PendingRequest {
  readonly waiting: Set<number>;
  readonly replies: Map<number, unknown>;
  readonly failures: Map<number, RankFailure>;
  readonly started: number;
  readonly timeoutMs: number;
  readonly busy: BusyView;
  timer: NodeJS.Timeout;
  /** When a busy rank's snapshot may stand in for it. */
  readonly standInAt: number;
  standInTimer?: NodeJS.Timeout;
  readonly resolve: (replies: Map<number, unknown>) => void;
  readonly reject: (error: RequestError) => void;
}

/**
 * HNP -> ranks requests: sends one body to a set of ranks and collects one reply from each. The
 * result settles once every rank answered, failed, died or the timeout passed, never earlier,
 * so a caller that rolls back knows exactly who did what.
 */
export class RequestTracker {
  readonly #pending = new Map<number, PendingRequest>();
  #nextId = 1;

  request(
    ranks: readonly number[],
    body: unknown,
    timeoutMs: number,
    deliver: Deliver,
    busy: BusyView = {},
  ): Promise<Map<number, unknown>> {
    if (ranks.length === 0) return Promise.resolve(new Map());
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const timer = setTimeout(() => this.#expire(id), timeoutMs);
      const pending: PendingRequest = {
        waiting: new Set(ranks),
        replies: new Map(),
        failures: new Map(),
        started,
        timeoutMs,
        busy,
        timer,
        standInAt: started + Math.min(STAND_IN_AFTER_MS, timeoutMs / 2),
        resolve,
        reject,
      };
      this.#pending.set(id, pending);
      for (const rank of ranks) {
        const failure = deliver(rank, { type: 'request', id, body });
        if (failure !== null) this.#fail(pending, rank, failure);
      }
      if (busy.standIn) {
        // Its own time is up when it fires: a timer may run a fraction of a millisecond before
        // performance.now() reaches standInAt, and nothing else would ask again.
        pending.standInTimer = setTimeout(() => {
          for (const rank of [...pending.waiting]) this.#standIn(pending, rank, true);
          this.#settleIfDone(id);
        }, pending.standInAt - started);
      }
      this.#settleIfDone(id);
    });
  }

  /** `rank`'s monitor said something new: requests that may be answered for it now are. */
  activityChanged(rank: number): void {
    for (const [id, pending] of this.#pending) {
      if (this.#standIn(pending, rank)) this.#settleIfDone(id);
    }
  }

  #standIn(pending: PendingRequest, rank: number, due = false): boolean {
    if (!pending.waiting.has(rank) || !pending.busy.standIn || (!due && performance.now() < pending.standInAt)) return false;
    const answer = pending.busy.standIn(rank);
    if (answer === undefined) return false;
    pending.waiting.delete(rank);
    pending.replies.set(rank, answer);
    return true;
  }

  /** A rank answered. Replies to unknown or finished requests (e.g. after a timeout) are dropped. */
  reply(rank: number, reply: Reply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending || !pending.waiting.has(rank)) return;
    if (reply.ok) {
      pending.waiting.delete(rank);
      pending.replies.set(rank, reply.body);
    } else {
      this.#fail(pending, rank, {
        code: 'ERR_SWITCHYARD_RANK_FAILED',
        why: `failed: ${typeof reply.error === 'string' ? reply.error : 'unknown error'}`,
      });
    }
    this.#settleIfDone(reply.id);
  }

  /** `rank` will not answer anything still open (it exited, finalized or dropped its channel). */
  rankGone(rank: number, failure: RankFailure): void {
    for (const [id, pending] of this.#pending) {
      if (!pending.waiting.has(rank)) continue;
      this.#fail(pending, rank, failure);
      this.#settleIfDone(id);
    }
  }

  #fail(pending: PendingRequest, rank: number, failure: RankFailure): void {
    pending.waiting.delete(rank);
    pending.failures.set(rank, failure);
  }

  /**
   * Fails the ranks whose time is up. A rank known busy counts its time from the last moment it
   * was (so a live rank computing for a minute is waited for); the timer is set again for the
   * next deadline.
   */
  #expire(id: number): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    const now = performance.now();
    let next = Infinity;
    for (const rank of [...pending.waiting]) {
      const busyAt = pending.busy.lastBusy?.(rank);
      const deadline = Math.max(pending.started, busyAt ?? -Infinity) + pending.timeoutMs;
      if (deadline <= now) {
        const busyNote = busyAt !== undefined && busyAt > pending.started ? ' after a rank was last seen busy in application code' : '';
        const why = pending.busy.cannotAnswer?.(rank);
        const note = `${busyNote}${why ? `: ${why}` : ''}`;
        this.#fail(pending, rank, { code: 'ERR_SWITCHYARD_RANK_TIMEOUT', why: `did not answer within ${pending.timeoutMs} ms${note}` });
      } else next = Math.min(next, deadline);
    }
    this.#settleIfDone(id);
    if (this.#pending.has(id)) pending.timer = setTimeout(() => this.#expire(id), Math.max(1, next - now));
  }

  #settleIfDone(id: number): void {
    const pending = this.#pending.get(id);
    if (!pending || pending.waiting.size > 0) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    clearTimeout(pending.standInTimer);
    const replies = new Map([...pending.replies].sort(([a], [b]) => a - b));
    if (pending.failures.size === 0) pending.resolve(replies);
    else {
      const failures = [...pending.failures];
      pending.reject(
        new RequestError(new Map(failures.map(([r, f]) => [r, f.why])), replies, undefined, new Map(failures.map(([r, f]) => [r, f.code]))),
      );
    }
  }
}
