import { Comm } from './comm.js';
import { noteIfNotEnded } from './exit-note.js';
import { internals, type Runtime } from './runtime.js';

/**
 * The job as one rank sees it (MPI_COMM_WORLD): a communicator of every rank, plus what only the
 * world has — the job's id, this rank's place on its node, and finalize. Obtained from `init()`.
 */
export class World extends Comm {
  readonly jobId: string;
  /** This rank's index among the ranks on its node (Open MPI's OMPI_COMM_WORLD_LOCAL_RANK). */
  readonly localRank: number;
  /** How many ranks of the job run on this rank's node (OMPI_COMM_WORLD_LOCAL_SIZE). */
  readonly localSize: number;

  /** @internal created by `init()` */
  constructor(runtime: Runtime) {
    super(runtime, undefined, 0);
    this.jobId = runtime.wireup.jobId;
    const node = runtime.transports.nodeRanks();
    this.localRank = Math.max(0, node.indexOf(this.rank));
    this.localSize = Math.max(1, node.length);
  }

  #finalizing: Promise<void> | undefined;

  /**
   * Collective: waits for every rank, drains and closes the transports, leaves the job
   * (MPI_Finalize). A script that ends without calling it gets it at exit (see `init()`).
   */
  finalize(): Promise<void> {
    this.#finalizing ??= this.#finalize();
    return this.#finalizing;
  }

  /**
   * @internal Run when the event loop has nothing left to do and finalize was never called (the
   * script ended without it): tells the launcher, then finalizes. Undefined when finalize was called.
   */
  finalizeAtExit(): Promise<void> | undefined {
    if (this.#finalizing) return undefined;
    internals(this).wireup.finalizingAtExit?.();
    return this.finalize();
  }

  async #finalize(): Promise<void> {
    const runtime = internals(this);
    const { pml, transports, mca, wireup, control, loopHold } = runtime;
    // The transports' handles do not keep the loop alive: finalize holds it until it is done.
    loopHold.hold();
    try {
      await this.barrier();
      // A verb this rank is part of ends (everywhere) before its transports close.
      await control.finalizing();
      this.markFreed();
      runtime.finalized = true;
      // Peers whose last sends wait for our acknowledgement get it before our links go down.
      pml.flushAcknowledgements();
      await transports.stop(mca.params.get<number>('mpi_finalize_drain_timeout'));
      await wireup.finalize();
    } finally {
      // Requests the application left pending (a receive nothing matched) must not keep the
      // finalized rank alive: neither the loop's hold nor busy polling, which spins while any is.
      loopHold.close();
      pml.stopBusyPolling('the world finalized');
    }
    noteIfNotEnded(this.rank, mca.params.get<number>('mpi_finalize_exit_note'), (text) => process.stderr.write(text));
  }
}
