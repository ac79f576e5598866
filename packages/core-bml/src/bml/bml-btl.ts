import type { BtlEndpoint, BtlErrorSeverity, BtlModule, SendCompletion } from '@switchyard/btl-interface';

/** A policy drain (the link stays; the peer may not drain it too) or a removal (both sides remove it). */
export type DrainKind = 'policy' | 'removal';

/** Why a link is out of service, and since when (shown by `ctl status`). */
export interface LinkFailure {
  readonly error: Error;
  /** When it failed, in ms since the epoch. */
  readonly at: number;
  /**
   * `endpoint`: this link failed (it may come back: the BML probes it); `fatal`: the whole module
   * failed here (it comes back by reloading the component); `peer`: the peer's module failed.
   */
  readonly severity: BtlErrorSeverity | 'peer';
}

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
  /** Sends whose completion ran: a health sample that sees it still, with sends in flight, sees a stalled link. */
  completed = 0;
  /** `send` returned false: wait for `writable` before sending more. */
  blocked = false;
  /** Its module is being removed: out of every list for good; completes what was posted. */
  retired = false;
  /** In the peer's send list right now (policy and exclusivity allow it). */
  inUse = false;
  /** Policy drains' requests this side sent on the link (it numbers them alone). */
  drainRequests = 0;
  /** A drain request of the peer's not answered yet: it came while this link still carried our traffic. */
  peerRequest: number | undefined;
  /** Removal drains of this link so far; both sides remove it in the same verbs, so an epoch names one. */
  removalEpoch = 0;
  /** Out of service after a fault: in no list, skipped by drains, probed to bring it back. */
  failure: LinkFailure | undefined;
  /**
   * Fragments counted for the drain protocol. They start again from the probe that brings a
   * failed link back (fragments lost with the fault are never counted as owed), so they are
   * kept apart from the traffic counters, which only grow.
   */
  drainSent = 0;
  drainReceived = 0;
  /** The peer's latest answer to our drain requests: which one, and how many fragments it had sent here. */
  peerQuiet: { readonly request: number; readonly sent: number } | undefined;
  /** The peer's removal markers by epoch: how many fragments it had sent on this link then. */
  readonly peerRemovals = new Map<number, number>();
  readonly #drainWaiters: Array<() => void> = [];
  readonly counters: TrafficCounters = { fragmentsSent: 0, bytesSent: 0, fragmentsReceived: 0, bytesReceived: 0 };
  readonly #idleWaiters: Array<() => void> = [];

  constructor(
    readonly module: BtlModule,
    readonly endpoint: BtlEndpoint,
    /** The collective load of its component that made it (0: start-up); its peer's side has the same. */
    readonly generation = 0,
  ) {}

  get rank(): number {
    return this.endpoint.rank;
  }

  /** Sends one fragment, counting it; returns false when the module wants the caller to wait. */
  send(tag: number, segments: readonly Uint8Array[], done?: SendCompletion): boolean {
    this.#count(segments);
    this.inFlight += 1;
    const accepted = this.module.send(this.endpoint, tag, segments, (error) => {
      this.inFlight -= 1;
      this.completed += 1;
      if (this.inFlight === 0) this.#idleWaiters.splice(0).forEach((w) => w());
      done?.(error);
    });
    if (!accepted) this.blocked = true;
    return accepted;
  }

  /**
   * Sends one fragment now through the module's `sendi`, counting it, if the module offers it
   * and can; false: nothing was sent (use `send`). Nothing stays in flight: the module copied it.
   */
  sendi(tag: number, segments: readonly Uint8Array[]): boolean {
    const module = this.module;
    // Truthy, not only true: a module that sent it and answered 1 must not have it sent twice.
    if (module.sendi === undefined || !module.sendi(this.endpoint, tag, segments)) return false;
    this.#count(segments);
    return true;
  }

  /** A fragment sent: the traffic counters and the drain protocol's count. */
  #count(segments: readonly Uint8Array[]): void {
    let bytes = 0;
    for (let i = 0; i < segments.length; i++) bytes += segments[i]!.length;
    this.counters.fragmentsSent += 1;
    this.counters.bytesSent += bytes;
    this.drainSent += 1;
  }

  /** The peer answered our drain request `request` and every fragment it counted has arrived, or the link failed. */
  drainedFromPeer(request: number): boolean {
    if (this.failure) return true;
    const quiet = this.peerQuiet;
    return quiet !== undefined && quiet.request === request && this.drainReceived >= quiet.sent;
  }

  /**
   * Takes the link out of service; false if it already was. Whatever waits for it (a drain, an
   * idle wait) stops waiting: what it lost is the PML's to send again.
   */
  fail(failure: LinkFailure): boolean {
    if (this.failure) return false;
    this.failure = failure;
    this.#idleWaiters.splice(0).forEach((w) => w());
    this.received();
    return true;
  }

  /** Back in service after a probe: the drain counts restart from the peer's count at the probe. */
  recover(peerSent: number): void {
    this.failure = undefined;
    this.drainReceived = peerSent;
    this.blocked = false;
  }

  /** The peer's removal marker for `epoch` came and every fragment it counted has arrived, or the link failed. */
  removedByPeer(epoch: number): boolean {
    if (this.failure) return true;
    const expected = this.peerRemovals.get(epoch);
    return expected !== undefined && this.drainReceived >= expected;
  }

  /** Whether the peer has no fragment in flight here for the current drain of `kind`. */
  drainedBy(kind: DrainKind): boolean {
    return kind === 'removal' ? this.removedByPeer(this.removalEpoch) : this.drainedFromPeer(this.drainRequests);
  }

  /**
   * What a drain of `kind` still waits for on this link, for a timeout to say: sends the module
   * has not completed, the peer's marker, or fragments the peer counted that never arrived (a
   * module that lost them).
   */
  drainWait(kind: DrainKind): string {
    const parts: string[] = [];
    if (this.inFlight > 0) parts.push(`${this.inFlight} send(s) its module has not completed`);
    // More completions than sends: the module called a send's `done` twice, so its count never comes back to 0.
    if (this.inFlight < 0) parts.push(`its module completed ${-this.inFlight} more sends than it was given`);
    if (!this.drainedBy(kind)) {
      const quiet = this.peerQuiet;
      const answered = quiet?.request === this.drainRequests ? quiet.sent : undefined;
      const owed = kind === 'removal' ? this.peerRemovals.get(this.removalEpoch) : answered;
      if (owed === undefined) parts.push(`no drain marker from rank ${this.rank} yet`);
      else parts.push(`rank ${this.rank} sent ${owed} fragment(s) on it, ${this.drainReceived} arrived`);
    }
    return parts.join('; ');
  }

  /** Resolves once `drainedBy(kind)`; re-checked on every fragment and marker received. */
  untilDrainedBy(kind: DrainKind): Promise<void> {
    if (this.drainedBy(kind)) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.drainedBy(kind)) resolve();
        else this.#drainWaiters.push(check);
      };
      this.#drainWaiters.push(check);
    });
  }

  /** Something arrived on this link: wake drains waiting for it. */
  received(): void {
    if (this.#drainWaiters.length) this.#drainWaiters.splice(0).forEach((w) => w());
  }

  /** Resolves when nothing sent through this object is still in flight (or the link failed). */
  idle(): Promise<void> {
    if (this.inFlight === 0 || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  traceLabel(): string {
    return `${this.module.name}->${this.rank}`;
  }
}
