import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { addonLoader } from '@switchyard/btl-base';
import { SmError, SmErrorCodes } from './errors.js';

/** The surface of native/sm.cc; bump both together. */
export const NATIVE_ABI_VERSION = 4;

export interface Doorbell {
  /** The eventfd peers copy (pidfd_getfd) and write to. */
  readonly fd: number;
  /** Stops watching and closes the eventfd (the uv handle is released on the next loop turn). */
  close(): void;
  /** Lets a sleeping doorbell keep the event loop alive (the default). */
  ref(): void;
  /** A sleeping doorbell no longer keeps the event loop alive. */
  unref(): void;
}

export interface SmAddon {
  readonly abiVersion: number;
  /** A new segment of `size` bytes, already unlinked from /dev/shm; `fd` keeps it reachable for peers. */
  createSegment(name: string, size: number): { buffer: SharedArrayBuffer; fd: number };
  /** Maps another process's segment through its descriptor. */
  attachSegment(pid: number, fd: number, size: number): SharedArrayBuffer;
  /**
   * Unmaps a segment from createSegment or attachSegment, leaving zeroed private memory in its
   * place until the buffer is collected: views still held stay harmless.
   */
  releaseSegment(buffer: SharedArrayBuffer): void;
  /**
   * A plain ArrayBuffer over a segment's bytes, for copying fragments: V8 copies to and from a
   * SharedArrayBuffer with relaxed atomics, byte by byte when the two sides differ in alignment.
   */
  plainBuffer(buffer: SharedArrayBuffer): ArrayBuffer;
  /** A local copy of another process's descriptor. */
  peerFd(pid: number, fd: number): number;
  ring(fd: number): void;
  closeFd(fd: number): void;
  /** An eventfd in the event loop's epoll set: `onRing` runs (with microtasks after it) when it is written. */
  openDoorbell(onRing: () => void): Doorbell;
  addressOf(view: ArrayBufferView): bigint;
  /** process_vm_writev (write) or process_vm_readv between `view` and `address` in `pid`. */
  cma(write: boolean, pid: number, address: bigint, view: ArrayBufferView): number;
  /**
   * The same copy on libuv's thread pool, in `pieces` parts side by side; `done` runs on the event
   * loop (with microtasks after it) once all are done. `view`'s memory is kept alive meanwhile.
   */
  cmaAsync(write: boolean, pid: number, address: bigint, view: ArrayBufferView, pieces: number, done: (error: Error | null) => void): void;
  /** sched_yield(2). */
  yield(): void;
}

/** Overrides where the addon is looked for (tests, or a hand-built binary). */
export const ADDON_PATH_ENV = 'SWITCHYARD_BTL_SM_ADDON';

const PACKAGE_ROOT = fileURLToPath(new URL('../', import.meta.url));

const loader = addonLoader<SmAddon>({
  packageRoot: PACKAGE_ROOT,
  pathEnv: ADDON_PATH_ENV,
  abiVersion: NATIVE_ABI_VERSION,
  unavailable: (reason, cause) =>
    new SmError(
      SmErrorCodes.UNAVAILABLE,
      `the shared-memory addon is unavailable: ${reason}. It needs a C++ compiler and Node's headers: run ` +
        '`npm rebuild @switchyard/btl-sm` (if npm blocked the package\'s install script, ' +
        '`npm install-scripts approve @switchyard/btl-sm` first; offline, node-gyp cannot download the headers: ' +
        'name a Node installation that has them, `npm_config_nodedir=/usr npm rebuild @switchyard/btl-sm`)',
      { cause },
    ),
});

/** The addon, or throws SmError ERR_BTL_SM_UNAVAILABLE. */
export function loadNative(): SmAddon {
  return loader.load();
}

/**
 * Why sm cannot work in this process, or undefined: the addon must load, and the kernel must let
 * us copy a descriptor (pidfd_getfd) and read memory (process_vm_readv) of a process of our own
 * user; seccomp profiles and Yama's ptrace_scope can forbid either.
 */
export function unavailableReason(): string | undefined {
  let addon: SmAddon;
  try {
    addon = loadNative();
  } catch (err) {
    return (err as Error).message;
  }
  const fd = openSync('/dev/null', 'r');
  try {
    addon.closeFd(addon.peerFd(process.pid, fd));
  } catch (err) {
    const why = (err as Error).message;
    return `cannot copy a peer's descriptor (${why}): a seccomp profile or kernel older than 5.6 forbids pidfd_getfd`;
  } finally {
    closeSync(fd);
  }
  const yama = ptraceScope();
  if (yama !== undefined && yama > 0) {
    const file = '/proc/sys/kernel/yama/ptrace_scope';
    return `Yama's ptrace_scope is ${yama} (${file}): ranks may not read each other's memory or descriptors; 0 allows it`;
  }
  const from = Buffer.from('sm');
  const to = Buffer.alloc(2);
  try {
    addon.cma(false, process.pid, addon.addressOf(from), to);
  } catch (err) {
    const why = (err as Error).message;
    return `cannot read a peer's memory (${why}): CMA is off (CONFIG_CROSS_MEMORY_ATTACH) or ptrace is restricted`;
  }
  return undefined;
}

/** Yama's ptrace restriction (0: classic, same uid is enough), or undefined without Yama. */
function ptraceScope(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim());
  } catch {
    return undefined;
  }
}
