import type { Transports } from '@switchyard/core-bml';
import type { Mca } from '@switchyard/mca';
import { ANY_SOURCE, ANY_TAG, CTX_WORLD, waitAll, waitAny, type Message, type Pml, type ProbeResult, type Request } from '@switchyard/pml';
import type { WireUp } from '@switchyard/runtime';
import { Collectives } from './collectives.js';
import type { ReduceOp } from './ops.js';
import { bytesOf, type NumericArray } from './typed.js';

/**
 * The job as one rank sees it (MPI_COMM_WORLD): point-to-point messages with MPI's matching
 * rules, and collectives. Obtained from `init()`.
 */
export class World {
  readonly rank: number;
  readonly size: number;
  readonly jobId: string;
  readonly #collectives: Collectives;
  #finalized = false;

  /** @internal created by `init()` */
  constructor(
    readonly pml: Pml,
    readonly transports: Transports,
    readonly mca: Mca,
    readonly wireup: WireUp,
  ) {
    this.rank = pml.rank;
    this.size = pml.size;
    this.jobId = wireup.jobId;
    this.#collectives = new Collectives(pml);
  }

  /** Sends `data` to `dest` with `tag` (default 0); resolves when `data` may be reused. */
  send(data: ArrayBufferView, dest: number, tag = 0): Promise<void> {
    return this.isend(data, dest, tag).wait();
  }

  /**
   * Receives the next message matching `source` and `tag` (wildcards by default). With `into`,
   * the message lands in that buffer (MPI_Recv's buffer; `data` is a view of it) instead of a new
   * one; a larger message fails the receive (MPI_ERR_TRUNCATE).
   */
  recv(source: number = ANY_SOURCE, tag: number = ANY_TAG, into?: ArrayBufferView): Promise<Message> {
    return this.irecv(source, tag, into).wait();
  }

  isend(data: ArrayBufferView, dest: number, tag = 0): Request<void> {
    this.#live();
    return this.pml.isend(bytesOf(data), dest, tag, CTX_WORLD);
  }

  irecv(source: number = ANY_SOURCE, tag: number = ANY_TAG, into?: ArrayBufferView): Request<Message> {
    this.#live();
    return this.pml.irecv(source, tag, CTX_WORLD, into && bytesOf(into));
  }

  /** Waits until a matching message can be received, without receiving it. */
  probe(source: number = ANY_SOURCE, tag: number = ANY_TAG): Promise<ProbeResult> {
    this.#live();
    return this.pml.probe(source, tag, CTX_WORLD);
  }

  /** A matching message that can be received now, or undefined. */
  iprobe(source: number = ANY_SOURCE, tag: number = ANY_TAG): ProbeResult | undefined {
    this.#live();
    return this.pml.iprobe(source, tag, CTX_WORLD);
  }

  waitAll<T>(requests: readonly Request<T>[]): Promise<T[]> {
    return waitAll(requests);
  }

  waitAny<T>(requests: readonly Request<T>[]): Promise<{ index: number; value: T }> {
    return waitAny(requests);
  }

  barrier(): Promise<void> {
    this.#live();
    return this.#collectives.barrier();
  }

  /** Every rank gets the root's typed array (other ranks may pass undefined). */
  bcast<T extends NumericArray>(data: T | undefined, root = 0): Promise<T> {
    this.#live();
    return this.#collectives.bcast(data, root);
  }

  /** Element-wise reduction to `root`, which gets the result; other ranks get undefined. */
  reduce<T extends NumericArray>(data: T, op: ReduceOp, root = 0): Promise<T | undefined> {
    this.#live();
    return this.#collectives.reduce(data, op, root);
  }

  /** Element-wise reduction whose result every rank gets. */
  allreduce<T extends NumericArray>(data: T, op: ReduceOp): Promise<T> {
    this.#live();
    return this.#collectives.allreduce(data, op);
  }

  /** Ends the whole job with `code`, printing `message` (MPI_Abort). */
  abort(code: number, message: string): Promise<never> {
    return this.wireup.abort(code, message);
  }

  /** Collective: waits for every rank, drains and closes the transports, leaves the job. */
  async finalize(): Promise<void> {
    if (this.#finalized) return;
    await this.barrier();
    this.#finalized = true;
    // Peers whose last sends wait for our acknowledgement get it before our links go down.
    this.pml.flushAcknowledgements();
    await this.transports.stop(this.mca.params.get<number>('mpi_finalize_drain_timeout'));
    await this.wireup.finalize();
  }

  #live(): void {
    if (this.#finalized) throw new Error(`rank ${this.rank}: the world was finalized`);
  }
}
