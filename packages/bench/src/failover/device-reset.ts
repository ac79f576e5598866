/**
 * A rank's soft verbs device reset from outside its process, as an operator resetting an HCA
 * would: through `@switchyard/btl-openib/admin`, what `switchyard verbs reset --pid` uses.
 */
import { createRequire } from 'node:module';
import { epochNow } from '../switch/plan.js';

const PACKAGE = '@switchyard/btl-openib';

export interface DeviceReset {
  /** Epoch ms just before the request was sent. */
  readonly at: number;
  readonly pid: number;
  readonly device: string;
}

export interface DeviceAdmin {
  reset(pid: number): Promise<DeviceReset>;
}

/**
 * The admin library, or why device faults cannot be injected here. btl-openib is an optional
 * dependency; its package.json says whether it is there, and whether it has the admin library.
 */
export async function loadDeviceAdmin(): Promise<DeviceAdmin | string> {
  let exported: unknown;
  try {
    exported = (createRequire(import.meta.url)(`${PACKAGE}/package.json`) as { exports?: Record<string, unknown> }).exports?.['./admin'];
  } catch {
    return `${PACKAGE} is not installed: it provides the soft verbs devices, and the admin library that resets one from outside`;
  }
  if (!exported)
    return `this ${PACKAGE} has no soft verbs device admin (${PACKAGE}/admin, 'switchyard verbs reset'), which resets a rank's device ` +
      `from outside`;
  const admin = await import('@switchyard/btl-openib/admin');
  return {
    async reset(pid) {
      const device = 'soft0';
      const at = epochNow();
      await admin.controlSoftDevice(pid, 'reset', device);
      return { at, pid, device };
    },
  };
}
