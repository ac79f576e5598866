import type { BtlEndpoint, BtlModule, SendCompletion } from '../btl/types.js';

/** Traffic counters of one module towards one peer (shown by `ctl status`). */
export interface TrafficCounters {
  fragmentsSent: number;
  bytesSent: number;
  fragmentsReceived: number;
  bytesReceived: number;
}

/**
 * One module's endpoint to one peer, as the BML hands it out: a stable object. Work in flight
 * keeps a reference to this, never an index into a list, so recomputing or shrinking a peer's
 * lists cannot invalidate it (Open MPI's by-value arrays are why its re-add crashed).
 */
export class BmlBtl {
  /** Striping weight in the peer's send list (bandwidth share); 0 when not in the list. */
  weight = 0;
  /** Sends issued whose completion has not run yet. */
  inFlight = 0;
  /** `send` returned false: wait for `writable` before sending more. */
  blocked = false;
  /** Removed from every list; completes what was posted, takes nothing new. */
  retired = false;
  readonly counters: TrafficCounters = { fragmentsSent: 0, bytesSent: 0, fragmentsReceived: 0, bytesReceived: 0 };
  readonly #idleWaiters: Array<() => void> = [];

  constructor(
    readonly module: BtlModule,
    readonly endpoint: BtlEndpoint,
  ) {}

  get rank(): number {
    return this.endpoint.rank;
  }

  /** Sends one fragment, counting it; returns false when the module wants the caller to wait. */
  send(tag: number, segments: readonly Uint8Array[], done?: SendCompletion): boolean {
    let bytes = 0;
    for (const s of segments) bytes += s.length;
    this.counters.fragmentsSent += 1;
    this.counters.bytesSent += bytes;
    this.inFlight += 1;
    const accepted = this.module.send(this.endpoint, tag, segments, (error) => {
      this.inFlight -= 1;
      if (this.inFlight === 0) this.#idleWaiters.splice(0).forEach((w) => w());
      done?.(error);
    });
    if (!accepted) this.blocked = true;
    return accepted;
  }

  /** Resolves when nothing sent through this object is still in flight. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  traceLabel(): string {
    return `${this.module.name}->${this.rank}`;
  }
}
