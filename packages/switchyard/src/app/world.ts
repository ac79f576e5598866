import type { Transports } from '@switchyard/core-bml';
import type { Mca } from '@switchyard/mca';
import type { Pml } from '@switchyard/pml';
import type { WireUp } from '@switchyard/runtime';
import { Comm } from './comm.js';
import { internals } from './runtime.js';

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
  constructor(pml: Pml, transports: Transports, mca: Mca, wireup: WireUp) {
    super({ pml, transports, mca, wireup, nextPair: 1 }, undefined, 0);
    this.jobId = wireup.jobId;
    const node = transports.nodeRanks();
    this.localRank = Math.max(0, node.indexOf(this.rank));
    this.localSize = Math.max(1, node.length);
  }

  /** Collective: waits for every rank, drains and closes the transports, leaves the job (MPI_Finalize). */
  async finalize(): Promise<void> {
    if (this.freed) return;
    await this.barrier();
    this.markFreed();
    const { pml, transports, mca, wireup } = internals(this);
    // Peers whose last sends wait for our acknowledgement get it before our links go down.
    pml.flushAcknowledgements();
    await transports.stop(mca.params.get<number>('mpi_finalize_drain_timeout'));
    await wireup.finalize();
  }
}
