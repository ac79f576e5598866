import { ALIVE_WITHIN_MS } from './activity-timing.js';
import { isPlainObject, type Message } from './protocol.js';

/**
 * The launcher's view of one rank's main thread, from its activity monitor: busy in application
 * code since when, when last heard of, and the snapshot to answer for it meanwhile. Times are
 * this process's performance.now(); the rank sends durations, so clocks need not agree.
 */
export class RankActivity {
  #busySince: number | undefined;
  #heardAt = -Infinity;
  #lastBusyAt: number | undefined;
  #snapshot: unknown;

  /** Takes an `activity` message; false when it is malformed. */
  update(message: Message): boolean {
    const { busyMs } = message;
    if (busyMs !== null && !(typeof busyMs === 'number' && Number.isFinite(busyMs) && busyMs >= 0)) return false;
    const now = performance.now();
    this.#heardAt = now;
    if (busyMs === null) {
      if (this.#busySince !== undefined) this.#lastBusyAt = now;
      this.#busySince = undefined;
    } else {
      this.#busySince = now - busyMs;
      this.#lastBusyAt = now;
    }
    if ('snapshot' in message) this.#snapshot = message.snapshot;
    return true;
  }

  /** The monitor went away: nothing is known any more. */
  forget(): void {
    this.#busySince = undefined;
    this.#heardAt = -Infinity;
  }

  /** How long the rank has been busy, while it is and its monitor is heard from. */
  busyMs(): number | undefined {
    const now = performance.now();
    if (this.#busySince === undefined || now - this.#heardAt > ALIVE_WITHIN_MS) return undefined;
    return Math.round(now - this.#busySince);
  }

  /** How long ago the rank was last known busy and alive, while it is not busy now. */
  freeForMs(): number | undefined {
    if (this.busyMs() !== undefined || this.#lastBusyAt === undefined) return undefined;
    return Math.round(performance.now() - this.#lastBusyAt);
  }

  /** The last moment the rank was known busy and alive (now, while it still is). */
  lastBusyAt(): number | undefined {
    return this.busyMs() !== undefined ? performance.now() : this.#lastBusyAt;
  }

  /** The rank's last snapshot with `busy: { forMs }`, while it is busy and has published one. */
  standIn(): unknown {
    const forMs = this.busyMs();
    if (forMs === undefined || !isPlainObject(this.#snapshot)) return undefined;
    return { ...this.#snapshot, busy: { forMs } };
  }
}
