/**
 * The verbs-level interface: what both providers (the native libibverbs addon and the software
 * provider) implement, and all the openib BTL uses. Names and semantics follow libibverbs so
 * readers of `man ibv_post_send` recognise them: enum values are the IBV_* names without the
 * prefix, and a call that fails throws a {@link VerbsError} naming the ibv_* call and its errno.
 *
 * Provider-specific behaviour has no place here: the BTL must never branch on `provider.name`.
 */

/** `enum ibv_port_state` without the `IBV_PORT_` prefix. */
export type PortState = 'NOP' | 'DOWN' | 'INIT' | 'ARMED' | 'ACTIVE' | 'ACTIVE_DEFER';

/** `IBV_LINK_LAYER_*`. ETHERNET (RoCE) ports are addressed by GID, so RTR needs `dest.gid`. */
export type LinkLayer = 'UNSPECIFIED' | 'INFINIBAND' | 'ETHERNET';

export interface PortInfo {
  /** Port number, from 1 (`ibv_query_port`'s `port_num`). */
  readonly port: number;
  readonly state: PortState;
  /** Local identifier assigned by the subnet manager; 0 on RoCE and on the soft provider. */
  readonly lid: number;
  /** GID at index 0: 16 bytes as 8 colon-separated groups of 4 lower-case hex digits. */
  readonly gid: string;
  /** Active MTU in bytes (256, 512, 1024, 2048 or 4096), decoded from `enum ibv_mtu`. */
  readonly mtu: number;
  readonly linkLayer: LinkLayer;
}

export interface DeviceInfo {
  /** `ibv_get_device_name`, e.g. `mlx5_0`, or `soft0`. */
  readonly name: string;
  /** Node GUID as 16 lower-case hex digits (host byte order, as `ibv_devinfo` prints it). */
  readonly guid: string;
  readonly ports: readonly PortInfo[];
}

/** `enum ibv_access_flags` bits (values are libibverbs'); see {@link Access}. */
export type AccessFlags = number;

/** `enum ibv_qp_state` without the prefix; IBV_QPS_ERR is spelled `ERROR`. */
export type QpState = 'RESET' | 'INIT' | 'RTR' | 'RTS' | 'SQD' | 'SQE' | 'ERROR';

/** The states {@link QueuePair.modify} can move an RC QP to. */
export type QpTargetState = 'INIT' | 'RTR' | 'RTS' | 'ERROR' | 'RESET';

/** `enum ibv_wc_status` without `IBV_WC_`. */
export type WcStatus =
  | 'SUCCESS'
  | 'LOC_LEN_ERR'
  | 'LOC_QP_OP_ERR'
  | 'LOC_EEC_OP_ERR'
  | 'LOC_PROT_ERR'
  | 'WR_FLUSH_ERR'
  | 'MW_BIND_ERR'
  | 'BAD_RESP_ERR'
  | 'LOC_ACCESS_ERR'
  | 'REM_INV_REQ_ERR'
  | 'REM_ACCESS_ERR'
  | 'REM_OP_ERR'
  | 'RETRY_EXC_ERR'
  | 'RNR_RETRY_EXC_ERR'
  | 'LOC_RDD_VIOL_ERR'
  | 'REM_INV_RD_REQ_ERR'
  | 'REM_ABORT_ERR'
  | 'INV_EECN_ERR'
  | 'INV_EEC_STATE_ERR'
  | 'FATAL_ERR'
  | 'RESP_TIMEOUT_ERR'
  | 'GENERAL_ERR'
  | 'TM_ERR'
  | 'TM_RNDV_INCOMPLETE';

/** `enum ibv_wc_opcode` without `IBV_WC_` (the ones an RC QP without atomics produces). */
export type WcOpcode = 'SEND' | 'RDMA_WRITE' | 'RDMA_READ' | 'RECV' | 'RECV_RDMA_WITH_IMM' | 'OTHER';

/** `enum ibv_wr_opcode` subset: two-sided send, one-sided write and read. */
export type SendOpcode = 'SEND' | 'RDMA_WRITE' | 'RDMA_READ';

/** `struct ibv_wc`, reduced to what an RC consumer reads. */
export interface WorkCompletion {
  /** The `id` the work request was posted with. */
  readonly id: number;
  readonly status: WcStatus;
  /**
   * As in libibverbs, only meaningful when `status` is SUCCESS (both providers leave it undefined
   * otherwise): tell sends from receives by the `id` you chose, not by this field.
   */
  readonly opcode?: WcOpcode;
  /** Bytes received (RECV) or read (RDMA_READ). */
  readonly byteLen: number;
  /** The local QP the work request was posted on. */
  readonly qpn: number;
  /** Provider-specific error detail (`vendor_err`); 0 on success. */
  readonly vendorErr: number;
}

/** `struct ibv_sge`: a piece of registered local memory. Build one with `sge(mr, offset, length)`. */
export interface Sge {
  readonly addr: bigint;
  readonly length: number;
  readonly lkey: number;
}

export interface SendWorkRequest {
  /** Returned in the completion (`wr_id`): a non-negative safe integer. */
  readonly id: number;
  readonly opcode: SendOpcode;
  /** Gather list (SEND, RDMA_WRITE) or scatter list (RDMA_READ). */
  readonly sges: readonly Sge[];
  /** Target of RDMA_WRITE / RDMA_READ: an address inside a peer's memory region and its rkey. */
  readonly remote?: { readonly addr: bigint; readonly rkey: number };
  /**
   * IBV_SEND_SIGNALED; default true. An unsignaled request produces a completion only if it
   * fails (or is flushed).
   */
  readonly signaled?: boolean;
}

export interface RecvWorkRequest {
  readonly id: number;
  readonly sges: readonly Sge[];
}

/** `struct ibv_qp_cap` as requested at creation. */
export interface QpCaps {
  readonly maxSendWr: number;
  readonly maxRecvWr: number;
  /** Default 1. */
  readonly maxSendSge?: number;
  /** Default 1. */
  readonly maxRecvSge?: number;
}

/** Where an RC QP's peer is (`struct ibv_ah_attr`): LID on InfiniBand, GID on RoCE and soft. */
export interface QpDestination {
  readonly lid: number;
  /** Needed when the port's link layer is ETHERNET (or the LID is 0): puts a GRH on packets. */
  readonly gid?: string;
  /** Local GID table index for the GRH; default 0. */
  readonly sgidIndex?: number;
  /** Service level; default 0. */
  readonly sl?: number;
}

/**
 * `struct ibv_qp_attr` fields by transition, all with Open MPI openib's defaults. Which fields
 * are applied depends on the target state (the attr mask libibverbs requires for RC):
 * - INIT: `port`, `pkeyIndex`, `qpAccess`
 * - RTR: `remoteQpn` and `dest` (required), `rqPsn`, `pathMtu`, `maxDestRdAtomic`, `minRnrTimer`
 * - RTS: `sqPsn`, `timeout`, `retryCnt`, `rnrRetry`, `maxRdAtomic`
 * - ERROR, RESET: none
 */
export interface QpAttrs {
  /** Default 1. */
  readonly port?: number;
  readonly pkeyIndex?: number;
  /** Remote operations the peer may perform through this QP; default REMOTE_WRITE | REMOTE_READ. */
  readonly qpAccess?: AccessFlags;
  readonly remoteQpn?: number;
  readonly dest?: QpDestination;
  /** Expected PSN of the first incoming request (24 bits); default 0. */
  readonly rqPsn?: number;
  /** Bytes; default the port's active MTU. */
  readonly pathMtu?: number;
  /** Default 4. */
  readonly maxDestRdAtomic?: number;
  /**
   * RNR NAK timer this QP asks a sender to wait, encoded 0..31 as in the IB spec
   * (1 = 0.01 ms … 31 = 491.52 ms, 0 = 655.36 ms); default 12 (0.64 ms).
   */
  readonly minRnrTimer?: number;
  /** PSN of the first outgoing request (24 bits); default 0. */
  readonly sqPsn?: number;
  /** Local ack timeout, 4.096 µs · 2^timeout (0 = infinite); default 20 (≈ 4.3 s). */
  readonly timeout?: number;
  /** Transport retries before RETRY_EXC_ERR (0..7); default 7. */
  readonly retryCnt?: number;
  /** RNR retries before RNR_RETRY_EXC_ERR (0..6; 7 = retry forever); default 7. */
  readonly rnrRetry?: number;
  /** Default 4. */
  readonly maxRdAtomic?: number;
}

export interface ProtectionDomain {
  /** `ibv_dealloc_pd`: fails with EBUSY while memory regions or QPs still use it. */
  dealloc(): void;
}

export interface MemoryRegion {
  readonly lkey: number;
  readonly rkey: number;
  /** Start address of the region as the HCA sees it (virtual address; synthetic on soft). */
  readonly addr: bigint;
  readonly length: number;
  /** The registered memory (kept alive by the provider until `deregister`). */
  readonly buffer: Uint8Array;
  /** `ibv_dereg_mr`: afterwards the keys are invalid for local and remote access. */
  deregister(): void;
}

export interface CompletionQueue {
  /** Entries actually allocated (at least the depth asked for). */
  readonly depth: number;
  /**
   * Like a Node handle, a completion queue keeps the event loop alive until destroyed;
   * `unref()` lets the process exit while it exists, `ref()` undoes that.
   */
  ref(): void;
  unref(): void;
  /** `ibv_destroy_cq`: fails with EBUSY while a QP still uses it. */
  destroy(): void;
}

export interface QueuePair {
  /** QP number, the address a peer puts in its RTR `remoteQpn`. */
  readonly qpn: number;
  /** The current state (`ibv_query_qp`): errors move a QP to ERROR without a call from you. */
  readonly state: QpState;
  /** `ibv_modify_qp` to `to`, with the attribute mask RC requires for that transition. */
  modify(to: QpTargetState, attrs?: QpAttrs): void;
  /**
   * `ibv_post_send`: queues one work request. Throws EINVAL in RESET, INIT or RTR, ENOMEM when
   * the send queue is full. In ERROR the request is accepted and completes with WR_FLUSH_ERR.
   */
  postSend(wr: SendWorkRequest): void;
  /** `ibv_post_recv`: throws EINVAL in RESET; in ERROR it completes with WR_FLUSH_ERR. */
  postRecv(wr: RecvWorkRequest): void;
  /** `ibv_destroy_qp`: outstanding work requests are dropped without completions. */
  destroy(): void;
}

/** `enum ibv_event_type` without `IBV_EVENT_`, for the events a consumer acts on. */
export type AsyncEventType =
  | 'CQ_ERR'
  | 'QP_FATAL'
  | 'QP_REQ_ERR'
  | 'QP_ACCESS_ERR'
  | 'COMM_EST'
  | 'SQ_DRAINED'
  | 'PATH_MIG'
  | 'PATH_MIG_ERR'
  | 'DEVICE_FATAL'
  | 'PORT_ACTIVE'
  | 'PORT_ERR'
  | 'LID_CHANGE'
  | 'PKEY_CHANGE'
  | 'SM_CHANGE'
  | 'SRQ_ERR'
  | 'SRQ_LIMIT_REACHED'
  | 'QP_LAST_WQE_REACHED'
  | 'CLIENT_REREGISTER'
  | 'GID_CHANGE'
  | 'WQ_FATAL'
  | 'OTHER';

/** `struct ibv_async_event`: `qpn` for QP events, `port` for port events. */
export interface AsyncEvent {
  readonly type: AsyncEventType;
  readonly qpn?: number;
  readonly port?: number;
}

export interface OpenOptions {
  /** Asynchronous device events (`ibv_get_async_event`), delivered from the event loop. */
  readonly onAsyncEvent?: (event: AsyncEvent) => void;
}

/** An open device (`struct ibv_context`). */
export interface VerbsContext {
  readonly device: DeviceInfo;
  /** `ibv_query_port`, fresh (state and LID change under you). */
  queryPort(port: number): PortInfo;
  allocPd(): ProtectionDomain;
  /**
   * `ibv_create_cq` with a completion channel. Completions are delivered asynchronously from
   * the event loop, in batches, in the order the CQ produced them (native: the channel's fd is
   * watched by libuv; no thread polls).
   */
  createCompletionQueue(depth: number, onCompletions: (wcs: WorkCompletion[]) => void): CompletionQueue;
  /** `ibv_reg_mr` of `buffer` (the provider keeps it alive while registered). */
  registerMemory(pd: ProtectionDomain, buffer: Uint8Array, access: AccessFlags): MemoryRegion;
  /** `ibv_create_qp` of an RC QP, in RESET. */
  createQueuePair(pd: ProtectionDomain, sendCq: CompletionQueue, recvCq: CompletionQueue, caps: QpCaps): QueuePair;
  /** `ibv_close_device`, destroying first whatever is still open on it. */
  close(): void;
}

export interface VerbsProvider {
  readonly name: 'native' | 'soft';
  /** Devices and their ports; [] when there is none (not an error). */
  listDevices(): DeviceInfo[];
  /** Throws VerbsError (call `ibv_open_device`, ENODEV) for an unknown name. */
  open(deviceName: string, options?: OpenOptions): VerbsContext;
}
