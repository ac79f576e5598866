/** The shapes the bench's parts hand each other: what to measure and what came out. */

export type Benchmark = 'latency' | 'bandwidth';
/** `sleep`: the event loop sleeps in epoll while waiting; `busy`: it is kept polling. */
export type ProgressMode = 'sleep' | 'busy';

/** One measured size of one benchmark, as both sides of a run execute it. */
export interface Phase {
  readonly benchmark: Benchmark;
  /** Message size in bytes. */
  readonly size: number;
  /** Timed round trips (latency) or windows (bandwidth); a multiple of `batches`. */
  readonly iterations: number;
  /** Untimed round trips / windows before the timed ones. */
  readonly warmup: number;
  /** The timed iterations are split into this many equal batches; the median batch is reported. */
  readonly batches: number;
  /** Messages per window (bandwidth). */
  readonly window: number;
}

/**
 * What the measuring side of a run reports after each step of a phase: step 0 is the warm-up,
 * steps 1..batches the timed batches, with how long the batch took.
 */
export interface StepReport {
  readonly phase: number;
  readonly step: number;
  readonly ms: number;
}

export interface LatencyPoint {
  readonly size: number;
  /** Half round trip, microseconds. */
  readonly usec: number;
}

export interface BandwidthPoint {
  readonly size: number;
  /** 10^6 bytes per second. */
  readonly mbps: number;
}

/**
 * A transport under test: Switchyard over one BTL (plus self), a raw Node baseline over one kind
 * of socket, or the Open MPI baseline over one of its BTLs (tcp, vader).
 */
export type Transport =
  | { readonly kind: 'switchyard'; readonly btl: string; readonly variant?: TransportVariant }
  | { readonly kind: 'raw'; readonly socket: RawSocket }
  | { readonly kind: 'ompi'; readonly btl: OmpiBtl };

/** A Switchyard run over the same BTL with parameters of its own (e.g. `pml_failover false`), named apart. */
export interface TransportVariant {
  /** Appended to the run's name: `switchyard-tcp-<name>`. */
  readonly name: string;
  readonly mca: ReadonlyArray<readonly [string, string]>;
}

/** The sockets a raw Node baseline runs over: loopback TCP, or a Unix domain stream socket. */
export type RawSocket = 'tcp' | 'uds';

/** Open MPI BTLs the baseline can measure: tcp over loopback, and vader (shared memory) as a reference. */
export type OmpiBtl = 'tcp' | 'vader';

export interface TransportRun {
  /** `switchyard-<btl>`, `raw-node-tcp`, `raw-node-uds` or `ompi-<btl>`. */
  readonly transport: string;
  readonly mode: ProgressMode;
  readonly latency: LatencyPoint[];
  readonly bandwidth: BandwidthPoint[];
  /** The cores each of its two processes could run on (side 0, side 1), where they said. */
  cores?: [readonly number[], readonly number[]];
  /** Why an Open MPI baseline stopped during the mode: it was left out from then on (its later sizes are missing). */
  failed?: string;
}
