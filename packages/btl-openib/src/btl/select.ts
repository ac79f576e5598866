import {
  createSoftProvider,
  loadNative,
  NativeUnavailableError,
  NativeVerbsProvider,
  type DeviceInfo,
  type VerbsProvider,
} from '@switchyard/verbs';
import type { ProviderSetting } from './params.js';

/** A port the component will make a module for. */
export interface UsablePort {
  readonly device: string;
  readonly port: number;
}

/** Why native openib declines on a machine without an HCA, and what works there instead. */
export const NO_DEVICE = 'no RDMA device found (--mca btl_openib_provider soft runs it on the software verbs provider, no hardware needed)';

export type Selection = { readonly provider: VerbsProvider; readonly ports: readonly UsablePort[] } | { readonly reason: string };

/**
 * Picks the verbs provider and the ports to use, or says why openib cannot run here.
 * - soft: the software provider, always (it needs no hardware; never chosen unless asked for).
 * - native / auto: libibverbs through the addon; without the addon, the loader's cause; without
 *   a device with an active port, "no RDMA device found".
 * `auto` and `native` behave the same today; `auto` is the one that may grow fallbacks.
 */
export function selectProvider(setting: ProviderSetting, include: readonly string[]): Selection {
  let provider: VerbsProvider;
  if (setting === 'soft') {
    provider = createSoftProvider();
  } else {
    try {
      provider = new NativeVerbsProvider(loadNative());
    } catch (err) {
      return {
        reason: err instanceof NativeUnavailableError ? err.message : `native verbs addon failed to load: ${(err as Error).message}`,
      };
    }
  }
  let devices: DeviceInfo[];
  try {
    devices = provider.listDevices();
  } catch (err) {
    return { reason: `listing RDMA devices failed: ${(err as Error).message}` };
  }
  if (!devices.length) return { reason: NO_DEVICE };
  const wanted = (device: string, port: number) => !include.length || include.includes(device) || include.includes(`${device}:${port}`);
  const ports = devices.flatMap((d) =>
    d.ports.filter((p) => p.state === 'ACTIVE' && wanted(d.name, p.port)).map((p) => ({ device: d.name, port: p.port })),
  );
  if (!ports.length) {
    const seen = devices.flatMap((d) => d.ports.map((p) => `${d.name}:${p.port} ${p.state}`)).join(', ');
    return { reason: `no active RDMA port${include.length ? ` in if_include=${include.join(',')}` : ''} (found ${seen || 'no ports'})` };
  }
  return { provider, ports };
}
