/**
 * A rank's soft verbs device reset from outside its process, as an operator resetting an HCA
 * would: through `@switchyard/btl-openib/admin` (what `switchyard verbs reset --pid` uses).
 *
 * The admin library arrives with the `switchyard verbs` work; until this build has it, the
 * library is looked up at run time and the device-reset kind is skipped, saying why. Once it is
 * in, `loadDeviceAdmin` is the one place to turn into a static import.
 */
import { createRequire } from 'node:module';
import { epochNow } from '../switch/plan.js';

const PACKAGE = '@switchyard/btl-openib';
const ADMIN_MODULE = `${PACKAGE}/admin`;

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
  // The package says whether it has the admin entry point: no import error to interpret.
  let exported: unknown;
  try {
    exported = (createRequire(import.meta.url)(`${PACKAGE}/package.json`) as { exports?: Record<string, unknown> }).exports?.['./admin'];
  } catch {
    return `${PACKAGE} is not installed: it provides the soft verbs device, and its admin library resets one from outside`;
  }
  if (!exported) return `this build has no soft verbs device admin (${ADMIN_MODULE}, 'switchyard verbs reset'), which resets a rank's device from outside`;
  // A specifier in a variable: the build does not need the module to exist yet.
  const specifier: string = ADMIN_MODULE;
  const admin = (await import(specifier)) as AdminModule;
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
