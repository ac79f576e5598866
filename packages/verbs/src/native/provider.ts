import type {
  AccessFlags,
  CompletionQueue,
  DeviceInfo,
  MemoryRegion,
  OpenOptions,
  PortInfo,
  ProtectionDomain,
  QpAttrs,
  QpCaps,
  QpState,
  QpTargetState,
  QueuePair,
  RecvWorkRequest,
  SendWorkRequest,
  VerbsContext,
  VerbsProvider,
  WorkCompletion,
} from '../types.js';
import type { NativeAddon } from './addon.js';
import { loadNative, type LoadOptions } from './load.js';

/**
 * The verbs interface over real libibverbs (the compiled addon). These classes only translate:
 * every check and every error comes from libibverbs itself, via the addon.
 */
export class NativeVerbsProvider implements VerbsProvider {
  readonly name = 'native' as const;

  constructor(private readonly addon: NativeAddon) {}

  listDevices(): DeviceInfo[] {
    return this.addon.listDevices();
  }

  open(deviceName: string, options: OpenOptions = {}): VerbsContext {
    const { id, info } = this.addon.openDevice(deviceName, options.onAsyncEvent);
    return new NativeContext(this.addon, id, info);
  }
}

/** Loads the addon (throws NativeUnavailableError when it cannot) and wraps it. */
export function createNativeProvider(options: LoadOptions = {}): NativeVerbsProvider {
  return new NativeVerbsProvider(loadNative(options));
}

/** Handles of another provider's objects would index the wrong table: refuse them up front. */
function handleOf(x: unknown, kind: { new (...args: never[]): { readonly handle: number } }, what: string): number {
  if (!(x instanceof kind)) throw new TypeError(`${what} does not belong to the native verbs provider`);
  return x.handle;
}

class NativeContext implements VerbsContext {
  #closed = false;

  constructor(
    private readonly addon: NativeAddon,
    private readonly handle: number,
    readonly device: DeviceInfo,
  ) {}

  queryPort(port: number): PortInfo {
    return this.addon.queryPort(this.handle, port);
  }

  allocPd(): ProtectionDomain {
    return new NativePd(this.addon, this.addon.allocPd(this.handle));
  }

  createCompletionQueue(depth: number, onCompletions: (wcs: WorkCompletion[]) => void): CompletionQueue {
    const { id, depth: actual } = this.addon.createCq(this.handle, depth, onCompletions);
    return new NativeCq(this.addon, id, actual);
  }

  registerMemory(pd: ProtectionDomain, buffer: Uint8Array, access: AccessFlags): MemoryRegion {
    const mr = this.addon.regMr(handleOf(pd, NativePd, 'protection domain'), buffer, access);
    return new NativeMr(this.addon, mr.id, mr.lkey, mr.rkey, mr.addr, buffer);
  }

  createQueuePair(pd: ProtectionDomain, sendCq: CompletionQueue, recvCq: CompletionQueue, caps: QpCaps): QueuePair {
    const { id, qpn } = this.addon.createQp(
      handleOf(pd, NativePd, 'protection domain'),
      handleOf(sendCq, NativeCq, 'send CQ'),
      handleOf(recvCq, NativeCq, 'receive CQ'),
      caps,
    );
    return new NativeQp(this.addon, id, qpn);
  }

  /** Idempotent, like the soft provider's: cleanup paths may close twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.addon.closeDevice(this.handle);
  }
}

class NativePd implements ProtectionDomain {
  constructor(
    private readonly addon: NativeAddon,
    readonly handle: number,
  ) {}
  dealloc(): void {
    this.addon.deallocPd(this.handle);
  }
}

class NativeCq implements CompletionQueue {
  constructor(
    private readonly addon: NativeAddon,
    readonly handle: number,
    readonly depth: number,
  ) {}
  ref(): void {
    this.addon.cqRef(this.handle, true);
  }
  unref(): void {
    this.addon.cqRef(this.handle, false);
  }
  destroy(): void {
    this.addon.destroyCq(this.handle);
  }
}

class NativeMr implements MemoryRegion {
  constructor(
    private readonly addon: NativeAddon,
    readonly handle: number,
    readonly lkey: number,
    readonly rkey: number,
    readonly addr: bigint,
    readonly buffer: Uint8Array,
  ) {}
  get length(): number {
    return this.buffer.byteLength;
  }
  deregister(): void {
    this.addon.deregMr(this.handle);
  }
}

class NativeQp implements QueuePair {
  constructor(
    private readonly addon: NativeAddon,
    readonly handle: number,
    readonly qpn: number,
  ) {}
  get state(): QpState {
    return this.addon.queryQpState(this.handle) as QpState;
  }
  modify(to: QpTargetState, attrs: QpAttrs = {}): void {
    this.addon.modifyQp(this.handle, to, attrs);
  }
  postSend(wr: SendWorkRequest): void {
    this.addon.postSend(this.handle, wr);
  }
  postRecv(wr: RecvWorkRequest): void {
    this.addon.postRecv(this.handle, wr);
  }
  destroy(): void {
    this.addon.destroyQp(this.handle);
  }
}
