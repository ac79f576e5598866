import { VerbsError } from '../errors.js';
import type { DeviceInfo, OpenOptions, VerbsContext, VerbsProvider } from '../types.js';
import { SoftContext } from './context.js';
import { SoftDevice } from './device.js';
import { softVerbsDir } from './runtime-dir.js';
import { shmAddon } from './shm-hub.js';

export interface SoftProviderOptions {
  /** Where the device's socket lives; default `${os.tmpdir()}/switchyard-<uid>/soft-verbs-<pid namespace>` (0700). */
  readonly dir?: string;
}

/**
 * The software verbs provider: the verbs interface in userspace between processes of one user
 * on one machine. Each provider instance is one device, "soft0" with port 1, addressed by a GID
 * that names its Unix socket. It behaves as an HCA does where the BTL can tell (rkey checks,
 * QP states, RNR and transport retries, flushing), which is what makes it a faithful stand-in
 * where no RDMA hardware exists, and the place to inject a device reset.
 */
export class SoftVerbsProvider implements VerbsProvider {
  readonly name = 'soft' as const;
  readonly #device: SoftDevice;

  constructor(options: SoftProviderOptions = {}) {
    this.#device = new SoftDevice(options.dir ?? softVerbsDir());
  }

  listDevices(): DeviceInfo[] {
    return [this.#device.info()];
  }

  open(deviceName: string, options: OpenOptions = {}): VerbsContext {
    if (deviceName !== this.#device.name) {
      throw VerbsError.of('ibv_open_device', 'ENODEV', `no RDMA device named '${deviceName}' (the soft provider has ${this.#device.name})`);
    }
    return new SoftContext(this.#device, options);
  }

  /**
   * Where the device's traffic flows: `shm` (rings in shared memory and CMA, the normal case) or
   * `socket` (this process cannot share memory with its peers: the btl-sm addon is missing or
   * the kernel forbids pidfd_getfd / process_vm_readv); `links`: shared-memory links in use;
   * `directRdma`: RDMA reads and writes our QPs executed without the peer's CPU, as an HCA does.
   */
  dataPath(): { readonly wire: 'shm' | 'socket'; readonly links: number; readonly directRdma: number } {
    const hub = this.#device.hub;
    return { wire: shmAddon() ? 'shm' : 'socket', links: hub?.links ?? 0, directRdma: hub?.directRdma ?? 0 };
  }

  /**
   * Fault injection, "device reset": what a VM snapshot or live migration does to an HCA.
   * Every QP goes to ERROR and flushes its work requests, all memory registrations are gone,
   * open contexts fail further calls with EIO (and get a DEVICE_FATAL event), and the device
   * comes back at a new address (GID) for the next `open`.
   */
  resetDevice(): void {
    this.#device.reset();
  }
}

export function createSoftProvider(options: SoftProviderOptions = {}): SoftVerbsProvider {
  return new SoftVerbsProvider(options);
}
