/**
 * A rank's soft verbs device reset from outside its process, as an operator resetting an HCA
 * would: through `@switchyard/btl-openib/admin` (what `switchyard verbs reset --pid` uses).
 *
 * The admin library arrives with the `switchyard verbs` work; until this build has it, the
 * library is looked up at run time and the device-reset kind is skipped, saying why. Once it is
 * in, `loadDeviceAdmin` is the one place to turn into a static import.
 */
import { epochNow } from '../switch/plan.js';

const ADMIN_MODULE = '@switchyard/btl-openib/admin';

export interface DeviceReset {
  /** Epoch ms just before the request was sent. */
  readonly at: number;
  readonly pid: number;
  readonly device: string;
}

export interface DeviceAdmin {
  reset(pid: number): Promise<DeviceReset>;
}

interface AdminModule {
  controlSoftDevice(pid: number, action: 'reset', device?: string): Promise<unknown>;
}

/** The admin library, or why device faults cannot be injected from this build. */
export async function loadDeviceAdmin(): Promise<DeviceAdmin | string> {
  let admin: AdminModule;
  try {
    // A specifier in a variable: the build does not need the module to exist yet.
    const specifier: string = ADMIN_MODULE;
    admin = (await import(specifier)) as AdminModule;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
      return `this build has no soft verbs device admin (${ADMIN_MODULE}, 'switchyard verbs reset'), which resets a rank's device from outside`;
    }
    throw err;
  }
  if (typeof admin.controlSoftDevice !== 'function') return `${ADMIN_MODULE} has no controlSoftDevice: an older or newer admin library than this bench knows`;
  return {
    async reset(pid) {
      const device = 'soft0';
      const at = epochNow();
      await admin.controlSoftDevice(pid, 'reset', device);
      return { at, pid, device };
    },
  };
}
