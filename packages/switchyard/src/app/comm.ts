import {
  ANY_SOURCE, ANY_TAG, MAX_CONTEXT, Request, shown, testAll, testAny, testSome, waitAll, waitAny, waitSome, type Message, type ProbeResult,
  type RequestEntry,
} from '@switchyard/pml';
import type { Channel } from './channel.js';
import { bcastTree, gatherTree, scatterTree } from './coll-tree.js';
import type { AlltoallvLayout } from './alltoallv-layout.js';
import { allgatherBytes, Collectives, type Blocks, type Shape } from './collectives.js';
import { MpiError } from './errors.js';
import { Group } from './group.js';
import { decodeObject, encodeObject } from './objects.js';
import type { ReduceOp } from './ops.js';
import { attachRuntime, type Runtime } from './runtime.js';
import { checkStatus, type Status } from './status.js';
import { bytesOf, checkRecvInto, fromBytes, isNumericArray, type NumericArray, type NumericArrayConstructor } from './typed.js';

/** The colour of a rank that joins no communicator in `split` (MPI_UNDEFINED). */
export const UNDEFINED = -1;

/** Where a receive puts its message: a buffer to fill, or a typed array type to make. */
export type RecvInto = ArrayBufferView | NumericArrayConstructor;

const TAG_SPACE = 0x80000000;

/**
 * A communicator (MPI_Comm): a group of ranks with matching contexts of their own, so its
 * messages never meet another communicator's. The world is one (`init()`); `dup` and `split`
 * make more. Ranks are the communicator's own, 0 to `size - 1`. All collectives must be called
 * by every rank of the communicator, in the same order.
 */
export class Comm {
  /** This rank in the communicator. */
  readonly rank: number;
  /** Ranks in the communicator. */
  readonly size: number;
  readonly #rt: Runtime;
  /** World rank of each rank here; undefined for the world itself. */
  readonly #group: Int32Array | undefined;
  readonly #fromWorld: Map<number, number> | undefined;
  readonly #ctx: number;
  readonly #collCtx: number;
  readonly #collectives: Collectives;
  /** The tag of the next collective call: calls in flight at once never share one. */
  #collSeq = 0;
  #freed = false;

  /** @internal made by `init()`, `dup()` and `split()` */
  constructor(runtime: Runtime, group: Int32Array | undefined, pair: number) {
    this.#rt = runtime;
    this.#group = group;
    this.#ctx = 2 * pair;
    this.#collCtx = 2 * pair + 1;
    const worldRank = runtime.pml.rank;
    if (group) {
      this.#fromWorld = new Map(Array.from(group, (w, r) => [w, r]));
      this.rank = this.#fromWorld.get(worldRank)!;
      this.size = group.length;
    } else {
      this.#fromWorld = undefined;
      this.rank = worldRank;
      this.size = runtime.pml.size;
    }
    this.#collectives = new Collectives(this.#open, this.#shape);
    attachRuntime(this, runtime);
  }

  /** The world rank of each rank of this communicator, in order (MPI_Group_translate_ranks). */
  get worldRanks(): number[] {
    return this.#group ? Array.from(this.#group) : Array.from({ length: this.size }, (_, r) => r);
  }

  /** The communicator's processes, in rank order (MPI_Comm_group): make subgroups of it for `create`. */
  get group(): Group {
    return new Group(this.worldRanks, this.#rt.pml.rank);
  }

  // --- point to point ------------------------------------------------------------------------

  /** Sends `data` to `dest` with `tag` (default 0); resolves when `data` may be reused (MPI_Send). */
  send(data: ArrayBufferView, dest: number, tag = 0): Promise<void> {
    // A bad argument rejects, never throws; no promise of its own on the way of every message.
    try {
      return this.isend(data, dest, tag).wait();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Starts a send (MPI_Isend); `data` must not change until the request completes. */
  isend(data: ArrayBufferView, dest: number, tag = 0): Request<void> {
    this.#live();
    return this.#rt.pml.isend(bytesOf(data), this.#toWorld(dest, 'destination'), tag, this.#ctx);
  }

  /**
   * Receives the next message matching `source` and `tag` (wildcards by default; MPI_Recv).
   * `into` is a buffer to receive into (`data` is then a view of it of the same type: a
   * Float64Array gives a Float64Array; a larger message fails with MPI_ERR_TRUNCATE), or a typed
   * array constructor (`Float64Array`) for a new array of that type holding the message.
   */
  recv(source?: number, tag?: number): Promise<Message>;
  recv<T extends ArrayBufferView>(source: number, tag: number, into: T): Promise<Message<T>>;
  recv<T extends NumericArray>(source: number, tag: number, into: NumericArrayConstructor<T>): Promise<Message<T>>;
  recv(source: number = ANY_SOURCE, tag: number = ANY_TAG, into?: RecvInto): Promise<Message<ArrayBufferView>> {
    try {
      return this.#irecv(source, tag, into).wait();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Posts a receive (MPI_Irecv); `req.cancel()` withdraws it while no message has matched it. */
  irecv(source?: number, tag?: number): Request<Message>;
  irecv<T extends ArrayBufferView>(source: number, tag: number, into: T): Request<Message<T>>;
  irecv<T extends NumericArray>(source: number, tag: number, into: NumericArrayConstructor<T>): Request<Message<T>>;
  irecv(source: number = ANY_SOURCE, tag: number = ANY_TAG, into?: RecvInto): Request<Message<ArrayBufferView>> {
    return this.#irecv(source, tag, into);
  }

  /**
   * Sends to `dest` and receives from `source` at once, without deadlock (MPI_Sendrecv). `into`
   * is what the receive fills, as `recv`'s: a buffer (not `data`'s: the two must not overlap) or
   * a typed array constructor.
   */
  sendrecv(data: ArrayBufferView, dest: number, source?: number, sendTag?: number, recvTag?: number): Promise<Message>;
  sendrecv<T extends ArrayBufferView>(
    data: ArrayBufferView,
    dest: number,
    source: number,
    sendTag: number,
    recvTag: number,
    into: T,
  ): Promise<Message<T>>;
  sendrecv<T extends NumericArray>(
    data: ArrayBufferView,
    dest: number,
    source: number,
    sendTag: number,
    recvTag: number,
    into: NumericArrayConstructor<T>,
  ): Promise<Message<T>>;
  async sendrecv(
    data: ArrayBufferView,
    dest: number,
    source: number = dest,
    sendTag = 0,
    recvTag: number = ANY_TAG,
    into?: RecvInto,
  ): Promise<Message<ArrayBufferView>> {
    this.#live();
    // The send's arguments are checked before the receive is posted: a call that fails on one
    // leaves no receive behind to take a message the application never sees.
    const bytes = bytesOf(data);
    const to = this.#toWorld(dest, 'destination');
    this.#rt.pml.checkSend(bytes, to, sendTag, this.#ctx);
    const recv = this.#irecv(source, recvTag, into);
    const send = this.#rt.pml.isend(bytes, to, sendTag, this.#ctx);
    const [message] = await Promise.all([recv.wait(), send.wait()]);
    return message;
  }

  /** Waits until a matching message can be received, without receiving it (MPI_Probe). */
  async probe(source: number = ANY_SOURCE, tag: number = ANY_TAG): Promise<ProbeResult> {
    this.#live();
    const found = await this.#rt.pml.probe(this.#sourceToWorld(source), tag, this.#ctx);
    return { ...found, source: this.#toLocal(found.source) };
  }

  /** A matching message that can be received now, or undefined (MPI_Iprobe). */
  iprobe(source: number = ANY_SOURCE, tag: number = ANY_TAG): ProbeResult | undefined {
    this.#live();
    const found = this.#rt.pml.iprobe(this.#sourceToWorld(source), tag, this.#ctx);
    return found && { ...found, source: this.#toLocal(found.source) };
  }

  /** Sends any structured-clonable value (mpi4py's `comm.send`): nested objects, Maps, typed arrays… */
  async sendObject(value: unknown, dest: number, tag = 0): Promise<void> {
    return this.send(encodeObject(value), dest, tag);
  }

  /**
   * Receives a value sent with `sendObject` (mpi4py's `comm.recv`). `status`, when given, is
   * filled with the message's source and tag (mpi4py's `status=`), for ANY_SOURCE and ANY_TAG.
   */
  async recvObject<T = unknown>(source: number = ANY_SOURCE, tag: number = ANY_TAG, status?: Status): Promise<T> {
    checkStatus(status);
    const message = await this.recv(source, tag);
    const value = decodeObject<T>(message.data);
    if (status) {
      status.source = message.source;
      status.tag = message.tag;
    }
    return value;
  }

  /** Starts sending a value (mpi4py's `comm.isend`); it is serialized now, so it may change at once. */
  isendObject(value: unknown, dest: number, tag = 0): Request<void> {
    return this.isend(encodeObject(value), dest, tag);
  }

  /** Posts a receive of a value sent with `sendObject` or `isendObject` (mpi4py's `comm.irecv`). */
  irecvObject<T = unknown>(source: number = ANY_SOURCE, tag: number = ANY_TAG): Request<T> {
    const inner = this.#irecv(source, tag, undefined) as Request<Message>;
    return Request.map(inner, (m) => decodeObject<T>(m.data));
  }

  // The list calls take `null` (or `undefined`) for MPI_REQUEST_NULL, and count a request they
  // reported complete as MPI_REQUEST_NULL from then on, as MPI sets its handle so: N waitAny calls
  // over N requests give N indices, then -1 (MPI_UNDEFINED).

  /**
   * MPI_Waitall: every result, in order (`undefined` for a null or cancelled entry); with
   * failures, waits for all, then rejects with the first.
   */
  waitAll<T>(requests: readonly Request<T>[]): Promise<T[]>;
  waitAll<T>(requests: readonly RequestEntry<T>[]): Promise<(T | undefined)[]>;
  /** Requests of different kinds (a receive's and a send's, as MPI_Waitall takes them). */
  waitAll(requests: readonly RequestEntry<unknown>[]): Promise<unknown[]>;
  waitAll<T>(requests: readonly RequestEntry<T>[]): Promise<(T | undefined)[]> {
    return waitAll(requests);
  }

  /**
   * MPI_Waitany: the first active request to complete, its index and result (undefined for a
   * cancelled one); index -1 (value undefined) when none is active.
   */
  waitAny<T>(requests: readonly Request<T>[]): Promise<{ index: number; value: T }>;
  waitAny<T>(requests: readonly RequestEntry<T>[]): Promise<{ index: number; value: T | undefined }>;
  /** Requests of different kinds. */
  waitAny(requests: readonly RequestEntry<unknown>[]): Promise<{ index: number; value: unknown }>;
  waitAny<T>(requests: readonly RequestEntry<T>[]): Promise<{ index: number; value: T | undefined }> {
    return waitAny(requests);
  }

  /** MPI_Waitsome: the indices of the active requests complete once one is, in order; `[]` when none is active. */
  waitSome(requests: readonly RequestEntry<unknown>[]): Promise<number[]> {
    return waitSome(requests);
  }

  /** MPI_Testall: true once every request is complete. */
  testAll(requests: readonly RequestEntry<unknown>[]): boolean {
    return testAll(requests);
  }

  /** MPI_Testany: the index of a complete active request, or -1. */
  testAny(requests: readonly RequestEntry<unknown>[]): number {
    return testAny(requests);
  }

  /** MPI_Testsome: the indices of the active requests complete now, in order; `[]` when none is. */
  testSome(requests: readonly RequestEntry<unknown>[]): number[] {
    return testSome(requests);
  }

  // --- collectives on typed arrays ------------------------------------------------------------
  // `into`, where a call takes it, is an array of the result's type and length to fill and return.

  /** Waits until every rank has called it (MPI_Barrier). */
  barrier(): Promise<void> {
    return this.#collectives.barrier();
  }

  /** Every rank gets the root's typed array, of its type (MPI_Bcast); other ranks may pass undefined. */
  bcast<T extends NumericArray>(data: T | undefined, root = 0, into?: T): Promise<T> {
    return this.#collectives.bcast(data, root, into);
  }

  /** Element-wise reduction to `root`, which gets the result; other ranks get undefined (MPI_Reduce). */
  reduce<T extends NumericArray>(data: T, op: ReduceOp, root = 0, into?: T): Promise<T | undefined> {
    return this.#collectives.reduce(data, op, root, into);
  }

  /** Element-wise reduction whose result every rank gets (MPI_Allreduce). */
  allreduce<T extends NumericArray>(data: T, op: ReduceOp, into?: T): Promise<T> {
    return this.#collectives.allreduce(data, op, into);
  }

  /** The root gets every rank's array (one length for all) one after the other in rank order (MPI_Gather). */
  gather<T extends NumericArray>(data: T, root = 0, into?: T): Promise<T | undefined> {
    return this.#collectives.gather(data, root, into);
  }

  /** gather with a length per rank; `counts` (elements per rank) is needed at the root only (MPI_Gatherv). */
  gatherv<T extends NumericArray>(data: T, counts: readonly number[] | undefined, root = 0, into?: T): Promise<T | undefined> {
    return this.#collectives.gatherv(data, counts, root, into);
  }

  /**
   * Rank r gets part r of the root's data (MPI_Scatter): one array split into `size` equal
   * parts, or an array of `size` arrays of one length and type (else ERR_COUNT or ERR_TYPE at
   * the root; scatterv takes a length per rank). Other ranks pass undefined.
   */
  scatter<T extends NumericArray>(data: Blocks<T> | undefined, root = 0, into?: T): Promise<T> {
    return this.#collectives.scatter(data, root, into);
  }

  /** scatter with a length per rank: the root's array cut into `counts` elements after each other (MPI_Scatterv). */
  scatterv<T extends NumericArray>(data: T | undefined, counts: readonly number[] | undefined, root = 0, into?: T): Promise<T> {
    return this.#collectives.scatterv(data, counts, root, into);
  }

  /** Every rank gets every rank's array (one length for all), in rank order (MPI_Allgather). */
  allgather<T extends NumericArray>(data: T, into?: T): Promise<T> {
    return this.#collectives.allgather(data, into);
  }

  /** allgather with a length per rank; every rank passes the same `counts` (MPI_Allgatherv). */
  allgatherv<T extends NumericArray>(data: T, counts: readonly number[], into?: T): Promise<T> {
    return this.#collectives.allgatherv(data, counts, into);
  }

  /**
   * Part r of every rank's data goes to rank r, which gets the parts in rank order (MPI_Alltoall):
   * one array split in `size` equal parts, or an array of `size` arrays of one length.
   */
  alltoall<T extends NumericArray>(data: Blocks<T>, into?: T): Promise<T> {
    return this.#collectives.alltoall(data, into);
  }

  /**
   * alltoall with a length per rank (MPI_Alltoallv): `sendCounts[r]` elements for rank r, the
   * parts one after the other in `data` and in the result; or a layout with MPI's displacements
   * (`{ sendCounts, sdispls, recvCounts, rdispls }`), parts then taken from and put at those
   * element offsets (with `rdispls`, `into` keeps what no part covers).
   */
  alltoallv<T extends NumericArray>(data: T, layout: readonly number[] | AlltoallvLayout, into?: T): Promise<T> {
    return this.#collectives.alltoallv(data, layout, into);
  }

  /** Inclusive prefix reduction: rank r gets data(0) op … op data(r) (MPI_Scan). */
  scan<T extends NumericArray>(data: T, op: ReduceOp, into?: T): Promise<T> {
    return this.#collectives.scan(data, op, into);
  }

  /** Exclusive prefix reduction: rank r gets data(0) op … op data(r - 1); rank 0 gets undefined (MPI_Exscan). */
  exscan<T extends NumericArray>(data: T, op: ReduceOp, into?: T): Promise<T | undefined> {
    return this.#collectives.exscan(data, op, into);
  }

  /** Element-wise reduction cut in `counts` parts; rank r gets part r (MPI_Reduce_scatter). */
  reduceScatter<T extends NumericArray>(data: T, counts: readonly number[], op: ReduceOp, into?: T): Promise<T> {
    return this.#collectives.reduceScatter(data, counts, op, into);
  }

  // --- non-blocking collectives: the same calls, as Requests (they may overlap each other) ----

  /** MPI_Ibarrier. */
  ibarrier(): Request<void> {
    return Request.from(this.barrier());
  }

  /** MPI_Ibcast. */
  ibcast<T extends NumericArray>(data: T | undefined, root = 0, into?: T): Request<T> {
    return Request.from(this.bcast(data, root, into));
  }

  /** MPI_Ireduce. */
  ireduce<T extends NumericArray>(data: T, op: ReduceOp, root = 0, into?: T): Request<T | undefined> {
    return Request.from(this.reduce(data, op, root, into));
  }

  /** MPI_Iallreduce. */
  iallreduce<T extends NumericArray>(data: T, op: ReduceOp, into?: T): Request<T> {
    return Request.from(this.allreduce(data, op, into));
  }

  /** MPI_Iallgather. */
  iallgather<T extends NumericArray>(data: T, into?: T): Request<T> {
    return Request.from(this.allgather(data, into));
  }

  /** MPI_Ialltoall. */
  ialltoall<T extends NumericArray>(data: Blocks<T>, into?: T): Request<T> {
    return Request.from(this.alltoall(data, into));
  }

  // --- collectives on objects (mpi4py's lower-case forms) ---------------------------------------

  /** Every rank gets a copy of the root's value (mpi4py's `comm.bcast`). */
  async bcastObject<T>(value: T | undefined, root = 0): Promise<T> {
    // Checked and encoded before the call's tag is taken: a rank that throws here stays in step.
    this.#live();
    this.#checkRoot(root);
    const mine = this.rank === root ? encodeObject(value) : undefined;
    const bytes = await bcastTree(this.#open(), mine, root);
    return this.rank === root ? (value as T) : decodeObject<T>(bytes);
  }

  /** The root gets every rank's value in rank order; others get undefined (mpi4py's `comm.gather`). */
  async gatherObject<T>(value: T, root = 0): Promise<T[] | undefined> {
    this.#live();
    this.#checkRoot(root);
    const mine = encodeObject(value);
    const blocks = await gatherTree(this.#open(), mine, root);
    return blocks?.map((b) => decodeObject<T>(b));
  }

  /** Rank r gets the root's `values[r]` (mpi4py's `comm.scatter`). */
  async scatterObject<T>(values: readonly T[] | undefined, root = 0): Promise<T> {
    this.#live();
    this.#checkRoot(root);
    const atRoot = this.rank === root;
    if (atRoot && (!Array.isArray(values) || values.length !== this.size)) {
      throw new MpiError('ERR_COUNT', `scatterObject: the root must pass an array of ${this.size} values`);
    }
    const blocks = atRoot ? values!.map(encodeObject) : undefined;
    return decodeObject<T>(await scatterTree(this.#open(), blocks, root));
  }

  /** Every rank gets every rank's value, in rank order (mpi4py's `comm.allgather`). */
  async allgatherObject<T>(value: T): Promise<T[]> {
    const mine = encodeObject(value);
    const blocks = await allgatherBytes(this.#open(), mine, 0);
    return blocks.map((b) => decodeObject<T>(b));
  }

  // --- communicators ------------------------------------------------------------------------

  /** A communicator of the same ranks with contexts of its own (MPI_Comm_dup). Collective. */
  async dup(): Promise<Comm> {
    const pair = await this.#agreeOnPair();
    return new Comm(this.#rt, this.#group, pair);
  }

  /**
   * Collective (MPI_Comm_split): ranks passing one `color` (an integer ≥ 0) form a communicator
   * each, ranked by `key` and then by rank here; a rank passing `UNDEFINED` gets null.
   */
  async split(color: number, key = 0): Promise<Comm | null> {
    if (color !== UNDEFINED && (!Number.isInteger(color) || color < 0 || color > 0x7fffffff)) {
      throw new MpiError('ERR_ARG', `split: color must be an integer from 0 to 2^31 - 1, or UNDEFINED, got ${shown(color)}`);
    }
    if (!Number.isInteger(key) || key < -0x80000000 || key > 0x7fffffff) {
      throw new MpiError('ERR_ARG', `split: key must be a 32-bit integer, got ${shown(key)}`);
    }
    const all = await this.allgather(Int32Array.of(color, key));
    const pair = await this.#agreeOnPair();
    if (color === UNDEFINED) return null;
    const members = Array.from({ length: this.size }, (_, r) => r)
      .filter((r) => all[2 * r] === color)
      .sort((a, b) => all[2 * a + 1]! - all[2 * b + 1]! || a - b);
    return new Comm(this.#rt, Int32Array.from(members, (r) => this.#toWorld(r, 'member')), pair);
  }

  /**
   * Collective (MPI_Comm_create): the members of `group`, a group of this communicator's
   * processes, get a communicator of their own ranked in the group's order; others get null.
   * Every rank calls it, with the same group (or disjoint ones, as MPI-2.2 allows).
   */
  async create(group: Group): Promise<Comm | null> {
    if (!(group instanceof Group)) throw new MpiError('ERR_GROUP', 'create: pass a Group (from comm.group and incl / excl / …)');
    const outside = group.worldRanks.find((w) => !this.#fromWorldRank(w));
    if (outside !== undefined) throw new MpiError('ERR_GROUP', `create: world rank ${outside} of the group is not in this communicator`);
    const pair = await this.#agreeOnPair();
    if (group.rank < 0) return null;
    return new Comm(this.#rt, Int32Array.from(group.worldRanks), pair);
  }

  /** Releases the communicator (MPI_Comm_free); using it afterwards fails with ERR_COMM. */
  free(): void {
    this.#live();
    if (!this.#group && this.#ctx === 0) throw new MpiError('ERR_COMM', 'the world cannot be freed (finalize ends it)');
    this.#freed = true;
    const { pml, pairs } = this.#rt;
    // Both contexts quiet here: the pair may serve a later communicator (Open MPI reuses a freed
    // context id too), else dup/free in a loop would run out of pairs. A rank where it is not
    // quiet keeps it taken, and communicators are only given pairs free at every member.
    const released = [pml.releaseContext(this.#ctx), pml.releaseContext(this.#collCtx)];
    if (released.every(Boolean)) pairs.release(this.#ctx >> 1);
  }

  /** Ends the whole job with `code` (1 to 255; any other gives 1), printing `message` (MPI_Abort). */
  abort(code: number, message: string): Promise<never> {
    // Not a number at all is a mistake in the call, not a code out of range: said as such (as
    // mpi4py's Abort raises TypeError); unhandled, the rejection still ends the job.
    if (typeof code !== 'number') {
      return Promise.reject(new MpiError('ERR_ARG', `abort: code must be a number (1 to 255), got ${shown(code)}`));
    }
    return this.#rt.wireup.abort(code, message);
  }

  /** @internal */
  protected get freed(): boolean {
    return this.#freed;
  }

  /** @internal */
  protected markFreed(): void {
    this.#freed = true;
  }

  // --- internals ---------------------------------------------------------------------------

  /**
   * Open MPI's context id allocation: every rank proposes (and holds) the lowest pair free there,
   * the highest proposal is the candidate, and it is taken when it is free at every rank; when a
   * rank holds it for another creation under way (a dup of the world beside a dup of a split),
   * every rank tries again above it.
   */
  async #agreeOnPair(): Promise<number> {
    const pairs = this.#rt.pairs;
    for (let from = 1; ; ) {
      const mine = pairs.holdLowest(from);
      const [pair] = await this.allreduce(Int32Array.of(mine), 'max');
      if (2 * pair! + 1 > MAX_CONTEXT) {
        throw new MpiError('ERR_COMM', `no context ids left: ${MAX_CONTEXT >> 1} communicators exist (free() those no longer used)`);
      }
      const free = pairs.tryHold(pair!, mine);
      if (pair !== mine) pairs.release(mine);
      const [everywhere] = await this.allreduce(Int32Array.of(free ? 1 : 0), 'min');
      if (everywhere === 1) return pair!;
      if (free) pairs.release(pair!);
      from = pair! + 1;
    }
  }

  /** The communicator's rank and size for a collective's checks; throws ERR_COMM once it is freed. */
  readonly #shape = (): Shape => {
    this.#live();
    return { rank: this.rank, size: this.size };
  };

  readonly #open = (): Channel => {
    this.#live();
    const tag = this.#collSeq;
    this.#collSeq = (tag + 1) % TAG_SPACE;
    const { pml } = this.#rt;
    const ctx = this.#collCtx;
    return {
      rank: this.rank,
      size: this.size,
      send: (data, dest) => pml.isend(data, this.#toWorld(dest, 'destination'), tag, ctx).wait(),
      recv: async (source, into) => (await pml.irecv(this.#toWorld(source, 'source'), tag, ctx, into).wait()).data,
    };
  };

  #irecv(source: number, tag: number, into: RecvInto | undefined): Request<Message<ArrayBufferView>> {
    this.#live();
    checkRecvInto(into);
    const toFill = into !== undefined && typeof into !== 'function' ? bytesOf(into, 'into') : undefined;
    const inner = this.#rt.pml.irecv(this.#sourceToWorld(source), tag, this.#ctx, toFill);
    // The world receiving bytes: the PML's request as it is, with no promise in between.
    if (!this.#group && (into === undefined || into instanceof Uint8Array)) return inner;
    return Request.map(inner, (m) => this.#deliver(m, into));
  }

  #deliver(m: Message, into: RecvInto | undefined): Message<ArrayBufferView> {
    const source = this.#toLocal(m.source);
    if (into === undefined || into instanceof Uint8Array) return { data: m.data, source, tag: m.tag };
    if (typeof into === 'function') return { data: fromBytes(into, m.data), source, tag: m.tag };
    if (isNumericArray(into)) {
      const ctor = into.constructor as NumericArrayConstructor;
      if (m.data.length % ctor.BYTES_PER_ELEMENT !== 0) {
        throw new MpiError('ERR_TYPE', `a message of ${m.data.length} bytes is not a whole number of ${ctor.name} elements`);
      }
      return { data: new ctor(into.buffer as ArrayBuffer, into.byteOffset, m.data.length / ctor.BYTES_PER_ELEMENT), source, tag: m.tag };
    }
    return { data: new DataView(into.buffer, into.byteOffset, m.data.length), source, tag: m.tag };
  }

  #sourceToWorld(source: number): number {
    return source === ANY_SOURCE ? ANY_SOURCE : this.#toWorld(source, 'source');
  }

  #toWorld(rank: number, what: string): number {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.size) {
      throw new MpiError('ERR_RANK', `${what} rank must be an integer from 0 to ${this.size - 1}, got ${shown(rank)}`);
    }
    return this.#group ? this.#group[rank]! : rank;
  }

  /** Is this world rank a member here? */
  #fromWorldRank(worldRank: number): boolean {
    return this.#fromWorld ? this.#fromWorld.has(worldRank) : worldRank >= 0 && worldRank < this.size;
  }

  #toLocal(worldRank: number): number {
    return this.#fromWorld ? this.#fromWorld.get(worldRank)! : worldRank;
  }

  #checkRoot(root: number): void {
    if (!Number.isInteger(root) || root < 0 || root >= this.size) {
      throw new MpiError('ERR_ROOT', `root must be a rank from 0 to ${this.size - 1}, got ${shown(root)}`);
    }
  }

  #live(): void {
    if (this.#freed) throw new MpiError('ERR_COMM', `${this.#who()}: the communicator was freed (or the world finalized)`);
    if (this.#rt.finalized) throw new MpiError('ERR_COMM', `${this.#who()}: the world was finalized, and every communicator with it`);
  }

  /** This rank as the job's output names it (the world's rank), and in this communicator when that differs. */
  #who(): string {
    const world = this.#rt.pml.rank;
    return world === this.rank ? `rank ${world}` : `rank ${world} (rank ${this.rank} of this communicator)`;
  }
}
