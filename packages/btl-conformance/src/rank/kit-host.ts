import type { BtlEndpoint, BtlErrorEvent, BtlHost, BtlModule } from '@switchyard/btl-interface';
import { Leftovers } from './leftovers.js';

export type FragmentSink = (from: number, data: Uint8Array, endpoint: BtlEndpoint) => void;

/**
 * The kit in the BML's place: the one BtlHost every module under test gets (at the first load
 * and at a reload, as the BML does). It knows the endpoints addProcs returned and those delProcs
 * deleted, so it can tell a module that hands over a fragment on a foreign or a deleted endpoint,
 * and it records every error and writable call the module makes.
 */
export class KitHost implements BtlHost {
  /** Endpoints addProcs returned, by object: the only ones a module may pass back. */
  readonly endpoints = new Map<BtlEndpoint, { rank: number; module: BtlModule }>();
  /** Endpoints a delProcs that resolved deleted (until an addProcs returns one again): the BML no longer knows them. */
  readonly #deleted = new Set<BtlEndpoint>();
  readonly #sinks = new Map<number, FragmentSink>();
  readonly #writableWaiters = new Map<BtlEndpoint, Array<() => void>>();
  /** Contract breaches seen on the host's side (foreign endpoints, unknown tags). */
  readonly strays: string[] = [];
  readonly errors: BtlErrorEvent[] = [];
  readonly logs: string[] = [];
  /** Fragments of rules that have ended: never strays of the rule running when they arrive. */
  readonly leftovers = new Leftovers();
  writableCalls = 0;
  /** addProcs calls whose results the kit has not taken yet. */
  #adding = 0;

  constructor(readonly verbose = false) {}

  /** Receives the fragments of `tag` (the kit uses one tag per check). */
  sinkOf(tag: number): FragmentSink | undefined {
    return this.#sinks.get(tag);
  }

  sink(tag: number, sink: FragmentSink | undefined): void {
    if (sink) {
      this.#sinks.set(tag, sink);
      this.leftovers.listening(tag);
    } else this.#sinks.delete(tag);
  }

  receive(endpoint: BtlEndpoint, tag: number, data: Uint8Array): void {
    const known = this.endpoints.get(endpoint);
    if (!known) {
      if (this.#adding > 0) {
        // The BML too knows an endpoint only once addProcs' promise has resolved: what comes up earlier is dropped.
        this.#stray(`host.receive was given an endpoint (rank ${endpoint?.rank}) before the addProcs that returns it had resolved ` +
          `(the fragment is dropped, as the BML drops it): hold what arrives until addProcs' promise has resolved, ` +
          `not a microtask later inside it (a setImmediate does)`, true);
        return;
      }
      this.#stray(`host.receive was given an endpoint (rank ${endpoint?.rank}) that no addProcs of this module returned`, true);
      return;
    }
    if (this.#deleted.has(endpoint)) {
      // The BML drops it (it knows the endpoint no more): the peer's messages are lost.
      this.#stray(`host.receive was given rank ${known.rank}'s endpoint that delProcs deleted; a peer added again gets a new endpoint ` +
        `from addProcs and its fragments must come up on that one`, true);
      return;
    }
    if (known.module !== endpoint.module) this.#stray(`host.receive was given an endpoint whose module is not the one that created it`);
    const sink = this.#sinks.get(tag);
    if (!sink) {
      // A late fragment of a rule that has ended is that rule's, not a stray of the one running now.
      if (this.leftovers.claim(tag) === undefined)
        this.#stray(`a fragment with tag ${tag} (${data.length} bytes) from rank ${known.rank} arrived when no check expected it`);
      return;
    }
    sink(known.rank, data, endpoint);
  }

  /**
   * Runs a module's addProcs: until the kit has taken its result (`added`), an endpoint handed to
   * `receive` is one of this call's that came up too early, not a foreign one.
   */
  async adding<T>(call: () => Promise<T>): Promise<T> {
    this.#adding += 1;
    try {
      return await call();
    } finally {
      this.#adding -= 1;
    }
  }

  /** addProcs returned `endpoint` (perhaps one it had returned before, and delProcs deleted since). */
  added(endpoint: BtlEndpoint, rank: number, module: BtlModule): void {
    this.endpoints.set(endpoint, { rank, module });
    this.#deleted.delete(endpoint);
  }

  /** delProcs of these endpoints resolved: a fragment handed up on one from now on is one the BML would drop. */
  deleted(endpoints: readonly BtlEndpoint[]): void {
    endpoints.forEach((endpoint) => this.#deleted.add(endpoint));
  }

  writable(endpoint: BtlEndpoint): void {
    this.writableCalls += 1;
    const waiters = this.#writableWaiters.get(endpoint);
    this.#writableWaiters.delete(endpoint);
    waiters?.forEach((w) => w());
  }

  /**
   * Runs `resume` inside the next `writable(endpoint)` call, as the PML does: it sends again from
   * within the module's callback, so a module that updates its own state only after calling
   * `writable` is caught. Resolves true once it ran, false after `ms` without a call.
   */
  whenWritable(endpoint: BtlEndpoint, resume: () => void, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiter = () => {
        clearTimeout(timer);
        resume();
        resolve(true);
      };
      const timer = setTimeout(() => {
        const list = this.#writableWaiters.get(endpoint)?.filter((w) => w !== waiter);
        if (list?.length) this.#writableWaiters.set(endpoint, list);
        else this.#writableWaiters.delete(endpoint);
        resolve(false);
      }, ms);
      this.#writableWaiters.set(endpoint, [...(this.#writableWaiters.get(endpoint) ?? []), waiter]);
    });
  }

  error(event: BtlErrorEvent): void {
    this.errors.push(event);
    this.log(`host.error: ${event.severity} ${event.error?.message}`);
  }

  log(message: string): void {
    this.logs.push(message);
    if (this.verbose) process.stderr.write(`[kit] ${message}\n`);
  }

  /** Takes the strays seen so far (each check reports its own). */
  takeStrays(): string[] {
    return this.strays.splice(0);
  }

  /** `once`: not again while the same one waits to be taken (each fragment of a peer would repeat it). */
  #stray(message: string, once = false): void {
    if (once && this.strays.includes(message)) return;
    if (this.strays.length < 20) this.strays.push(message);
  }
}
