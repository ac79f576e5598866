import type { AsyncEvent, DeviceInfo, PortInfo, QpAttrs, QpCaps, RecvWorkRequest, SendWorkRequest, WorkCompletion } from '../types.js';

/**
 * The raw surface of the compiled addon (native/*.cc). Verbs objects are integer handles into
 * per-process tables; ../native/provider.ts wraps them in the VerbsProvider interface.
 */
export interface NativeAddon {
  /** Bumped when this surface changes, so a stale build is reported instead of misused. */
  readonly abiVersion: number;
  init(verbsError: new (call: string, errno: number, errnoText: string, detail?: string) => Error): void;
  listDevices(): DeviceInfo[];
  openDevice(name: string, onAsyncEvent?: (event: AsyncEvent) => void): { id: number; info: DeviceInfo };
  queryPort(device: number, port: number): PortInfo;
  closeDevice(device: number): void;
  allocPd(device: number): number;
  deallocPd(pd: number): void;
  regMr(pd: number, buffer: Uint8Array, access: number): { id: number; lkey: number; rkey: number; addr: bigint };
  deregMr(mr: number): void;
  createCq(device: number, depth: number, onCompletions: (wcs: WorkCompletion[]) => void): { id: number; depth: number };
  cqRef(cq: number, ref: boolean): void;
  destroyCq(cq: number): void;
  createQp(pd: number, sendCq: number, recvCq: number, caps: QpCaps): { id: number; qpn: number };
  modifyQp(qp: number, to: string, attrs: QpAttrs): void;
  queryQpState(qp: number): string;
  postSend(qp: number, wr: SendWorkRequest): void;
  postRecv(qp: number, wr: RecvWorkRequest): void;
  destroyQp(qp: number): void;
}

/** The addon surface this TypeScript expects (see `abiVersion` in native/addon.cc). */
export const NATIVE_ABI_VERSION = 1;
