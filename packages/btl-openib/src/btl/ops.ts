import type { SendCompletion } from '@switchyard/btl-interface';
import type { MemoryRegion, SendOpcode } from '@switchyard/verbs';

/** A fragment accepted by `send`, from then until its completion. */
export interface SendOp {
  readonly kind: 'send';
  readonly tag: number;
  readonly segments: readonly Uint8Array[];
  readonly bytes: number;
  readonly done?: SendCompletion;
  settled: boolean;
  waiters?: Array<() => void>;
}

/** A put (RDMA_WRITE) or get (RDMA_READ), from `put`/`get` until its completion. */
export interface RdmaOp {
  readonly kind: 'rdma';
  readonly opcode: Exclude<SendOpcode, 'SEND'>;
  readonly local: Uint8Array;
  readonly remote: { readonly addr: bigint; readonly rkey: number };
  readonly done: SendCompletion;
  /** The local buffer's registration while the operation is posted. */
  mr?: MemoryRegion;
  settled: boolean;
  waiters?: Array<() => void>;
}

export type UserOp = SendOp | RdmaOp;

/** A message of the BTL's own (HELLO, CREDIT): no caller waits for it. */
export interface ControlOp {
  readonly kind: 'control';
  readonly type: number;
}

export type PostedOp = UserOp | ControlOp;

/**
 * Work request ids: `incarnation · 2^20 + local id`, local ids by role, so one CQ can serve both
 * queues of every QP (an error completion carries no opcode, only the id), and completions from
 * a QP's life before a reconnect are recognised and ignored.
 */
export const WrId = Object.freeze({
  SPACE: 2 ** 20,
  RECV: 0,
  SEND: 2 ** 18,
  RDMA: 2 ** 19,
});
