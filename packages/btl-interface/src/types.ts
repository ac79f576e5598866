import type { ComponentParams, FrameworkHooks, FrameworkView, McaComponent } from '@switchyard/mca';

/**
 * A peer as a module's `addProcs` sees it: its rank, where it runs, and the business cards its
 * instance of the same component published in the modex (one per module it created).
 */
export interface BtlProc {
  readonly rank: number;
  /** The peer's host name (as `os.hostname()` there). */
  readonly hostname: string;
  /**
   * True when the peer runs on this host: same host name, kernel and network namespace (see
   * `nodeKey`). Transports that only work within one host (shared memory, loopback, the soft
   * verbs provider) reach exactly the local peers.
   */
  readonly local: boolean;
  /** The peer's cards for this component, in its module order; empty if it has none (not loaded there). */
  readonly cards: readonly unknown[];
}

/**
 * A module's view of one peer (Open MPI's `mca_btl_base_endpoint_t`). Modules create their own
 * endpoint objects, which may carry any state; the BML only reads these two fields and keeps
 * the object as an opaque, stable reference.
 */
export interface BtlEndpoint {
  readonly rank: number;
  readonly module: BtlModule;
}

/** Called when a send's segments have left the caller's hands (they may be reused), or it failed. */
export type SendCompletion = (error?: Error) => void;

/** Memory a peer may read from or write to with `get` / `put`: `handle` travels to the peer in a message. */
export interface BtlRegistration {
  /** JSON-serialisable description the peer passes to `put`/`get` (e.g. address and remote key). */
  readonly handle: unknown;
  readonly length: number;
  /** Deregisters; afterwards a peer's `put`/`get` with this handle fails. */
  release(): void;
  /**
   * For a module with `splitGetMin`: deregisters unless a peer's `put` into this memory has
   * begun. True: released, and no put will write into it any more; false: a put is under way
   * (nothing changed; its completion follows). Lets a receiver take back the half it asked the
   * sender to put when the sender is slow to answer (busy computing).
   */
  revoke?(): boolean;
}

export type BtlErrorSeverity = 'fatal' | 'endpoint';

/** An error a module reports to the BML instead of throwing (it happens on an async path). */
export interface BtlErrorEvent {
  readonly module: BtlModule;
  /** The endpoint that failed; absent when the whole module is unusable. */
  readonly endpoint?: BtlEndpoint;
  /** `endpoint`: this peer is lost on this module; `fatal`: the module is unusable. */
  readonly severity: BtlErrorSeverity;
  readonly error: Error;
}

/**
 * What the BML gives every module at init: one object, the same for a module created at start-up
 * and one added while the job runs, so a late module cannot miss a registration (the bug that
 * crashed Open MPI's only `add_btl` prototype on its first receive).
 */
export interface BtlHost {
  /**
   * Hands an arrived fragment to the layer above. `data` is valid only during the call (it may be
   * a view into a receive buffer the module reuses); the receiver copies what it keeps.
   */
  receive(endpoint: BtlEndpoint, tag: number, data: Uint8Array): void;
  /** After `send` returned false for this endpoint: the module can take more now. */
  writable(endpoint: BtlEndpoint): void;
  /** Reports an error; never throw from a socket or completion callback. */
  error(event: BtlErrorEvent): void;
  /** Diagnostics, shown when the btl framework is verbose. */
  log(message: string): void;
}

/**
 * A BTL module: one instance of a transport (e.g. one per network interface or HCA port),
 * created by its component's `init`. Limits and performance figures are read by the BML when
 * it builds each peer's eager, send and RDMA lists (Open MPI's r2 rules).
 *
 * Nothing here may block the event loop: sends queue and complete by callback. Nor may the
 * module's handles (listeners, sockets, timers, doorbells) keep it alive: unref them. The PML
 * keeps the loop alive while a request is pending, and a rank whose script is done must be able
 * to finalize at exit.
 */
export interface BtlModule {
  /** The component's name, e.g. `tcp`. */
  readonly component: string;
  /** Unique in this process, e.g. `tcp:lo` or `openib:mlx5_0:1`. */
  readonly name: string;
  /** Higher wins: a peer's send list holds only its reachable modules of the top exclusivity. */
  readonly exclusivity: number;
  /** Relative latency; the eager list holds the send modules of the lowest latency. */
  readonly latency: number;
  /** Bandwidth in Mbit/s: striping weights within a send list. */
  readonly bandwidth: number;
  /** Largest first fragment of a message, header included: messages that fit go eagerly. */
  readonly eagerLimit: number;
  /** Largest fragment `send` accepts, header included. */
  readonly maxSendSize: number;
  /** Bytes a rendezvous sends by send/recv before it uses RDMA (when the module has PUT/GET). */
  readonly rdmaPipelineSendLength?: number;
  /** {@link BtlFlag} bits. */
  readonly flags: number;
  /**
   * For a module with GET and PUT whose copies are done by the processes themselves (CMA, not a
   * NIC): from this many bytes, the receiver of a message it pulls with get asks the sender to
   * put the second half meanwhile, so two processes copy at once. Its registrations must offer
   * `revoke`, so a receiver whose sender does not answer can take the half back. Absent or 0: the
   * receiver gets it all.
   */
  readonly splitGetMin?: number;
  /** This module's address for peers, published in the modex (JSON-serialisable). */
  readonly businessCard: unknown;

  /**
   * Optional, for modules whose card carries per-peer connection state (e.g. a queue-pair
   * number per rank). Called on a module that stays loaded while some peers load this component
   * anew (a hot load limited with `--ranks`): create what peers without an endpoint here need
   * (new queue pairs) and return the card to publish now. Modules whose card is just an address
   * need not implement it; their `businessCard` is published again.
   */
  refreshBusinessCard?(): unknown;

  /**
   * Connects (lazily is fine) to new peers. Returns, for each proc, an endpoint if this module
   * reaches it, or undefined. Must not throw for an unreachable peer.
   */
  addProcs(procs: readonly BtlProc[]): Promise<Array<BtlEndpoint | undefined>>;
  /**
   * Optional (API 1.1), for modules whose links need a handshake before they carry data.
   * Resolves once the link to `endpoint` is up, or given up (bounded by the module's own
   * timeout; a failure is reported through `host.error`, never by rejecting). The BML receives
   * on an endpoint from the moment addProcs returns it, but sends on it only after this
   * resolves: a transport loaded into a running job takes traffic once it can carry it, and
   * until then the transports already up keep carrying it, with no pause.
   */
  connected?(endpoint: BtlEndpoint): Promise<void>;
  /**
   * Forgets these peers, each of them (one call may name several): close their connections,
   * release their resources. Only this forgets a peer: after a loss reported through
   * `host.error` the BML keeps the endpoint and probes it, so arrivals from that peer must still
   * be handed up on it.
   */
  delProcs(endpoints: readonly BtlEndpoint[]): Promise<void>;

  /**
   * Sends one fragment: the concatenation of `segments` (header and payload), at most
   * `maxSendSize` bytes, tagged with `tag`, to arrive whole at the peer's `host.receive`.
   * Always accepts it; returns false when the module's queue to this endpoint is above its
   * high-water mark: the caller should wait for `host.writable(endpoint)` before sending more.
   * `done` runs once the segments may be reused (or with the error if the fragment is lost),
   * exactly once for every send, also for one still pending at `finalize` (which fails it).
   */
  send(endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[], done?: SendCompletion): boolean;
  /**
   * Optional (API 1.2), Open MPI's `btl_sendi`: sends one fragment at once if the module can,
   * copying the segments before it returns, and returns true; the caller may reuse them as soon
   * as it returns, and no completion runs. Returns false, having sent and kept nothing, whenever
   * it cannot (no room now, a peer gone, anything `send` would queue or fail): the caller then
   * uses `send`. Fragments sent either way to one endpoint keep their order. A small message's
   * sender waits on nothing but this copy, so a module that can copy into the peer's memory
   * (shared memory) offers it.
   */
  sendi?(endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[]): boolean;

  /** Registers memory for peers' `put`/`get` (modules with PUT or GET). */
  registerMemory?(data: Uint8Array): BtlRegistration;
  /** RDMA write of `local` into the peer's registered memory at `offset` (PUT flag). */
  put?(endpoint: BtlEndpoint, local: Uint8Array, remote: unknown, offset: number, done: SendCompletion): void;
  /** RDMA read from the peer's registered memory at `offset` into `local` (GET flag). */
  get?(endpoint: BtlEndpoint, local: Uint8Array, remote: unknown, offset: number, done: SendCompletion): void;

  /**
   * Optional, for modules whose arrivals can be seen without the event loop (shared memory):
   * looks for arrivals once, synchronously, hands them up through `host.receive`, and returns
   * how many fragments moved (Open MPI's component progress). A busy-polling `wait()` calls it
   * in a loop while a receive waits on a peer this module carries. Must not block.
   */
  progress?(): number;

  /** Resolves when every send/put/get issued before the call (to `endpoint`, or to all) has completed. */
  flush(endpoint?: BtlEndpoint): Promise<void>;
  /**
   * Releases everything: sockets, listeners, timers, registrations. No handle may stay open.
   * Does not wait for pending sends: it fails them (`done(error)`), each once, before it resolves.
   */
  finalize(): Promise<void>;
}

/** What a BTL component's `init` receives. */
export interface BtlInitContext {
  readonly jobId: string;
  readonly rank: number;
  readonly size: number;
  readonly hostname: string;
  /**
   * The job's secret: authenticate every connection a module accepts with it. A module whose
   * arrivals are in memory it shares with its peers (one that offers `progress()`) accepts none:
   * who may write there is the operating system's to decide.
   */
  readonly secret: string;
  /** This component's parameters, by local name (`eager_limit` for `btl_tcp_eager_limit`). */
  readonly params: ComponentParams;
  readonly host: BtlHost;
  log(message: string): void;
}

/**
 * A BTL component: what a BTL package's entry module exports as `default` (or `component`).
 * Declare parameters in `register`, decline in `open` when the transport cannot work here, and
 * create modules in `init`. See docs/writing-a-btl.md.
 */
/** The btl framework's lifecycle hooks (`registered` … `close`), each called with the component's record. */
export type BtlFrameworkHooks = FrameworkHooks<McaComponent<BtlModule, BtlInitContext>, BtlModule>;

/** What a BTL component's `apply` receives: the btl framework's hooks, tap-only, scoped to one load. */
export type BtlFrameworkView = FrameworkView<BtlFrameworkHooks>;

export interface BtlComponent extends McaComponent<BtlModule, BtlInitContext> {
  /**
   * Can a process using this component be checkpointed (its state survives a VM snapshot)?
   * `checkpoint prepare` unloads every component that says no.
   */
  readonly checkpointable: boolean;
  init(ctx: BtlInitContext): Promise<BtlModule[]> | BtlModule[];
}
