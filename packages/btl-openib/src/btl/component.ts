import type { BtlComponent, BtlModule } from '@switchyard/btl-interface';
import { OpenibModule } from './module.js';
import { applyDeviceParams, deviceParamsFor } from './device-params.js';
import { checkSettings, readSettings, registerParams } from './params.js';
import { selectProvider } from './select.js';

/**
 * btl-openib: RDMA verbs, over real HCAs (native libibverbs addon) or the software provider.
 * Not checkpointable: HCA state (QPs, registrations whose rkeys peers hold, LIDs and QPNs) does
 * not survive a VM snapshot or migration, so `checkpoint prepare` unloads it and `continue` /
 * `restart` load it anew with fresh cards.
 */
export const component: BtlComponent = {
  checkpointable: false,

  register: registerParams,

  open(ctx) {
    const settings = readSettings(ctx.params);
    const problem = checkSettings(settings, ctx.params);
    if (problem) throw new Error(problem);
    const selection = selectProvider(settings.provider, settings.ifInclude);
    if ('reason' in selection) return { available: false, reason: selection.reason };
    // The device's row replaces the defaults the user left alone (init reads the values in force).
    applyDeviceParams(ctx.params, deviceParamsFor(selection.ports.map((p) => p.device)));
    const ports = selection.ports.map((p) => `${p.device}:${p.port}`).join(', ');
    ctx.log(`btl openib: ${selection.provider.name} verbs on ${ports}`);
    return {
      available: true,
      details: [
        `provider: ${selection.provider.name}${selection.provider.name === 'soft' ? ' (software verbs, this host only)' : ' (libibverbs)'}`,
        `active ports: ${ports}`,
      ],
    };
  },

  init(ctx) {
    const settings = readSettings(ctx.params);
    // A fresh selection: for soft, a new device (and address) each time the component loads.
    const selection = selectProvider(settings.provider, settings.ifInclude);
    if ('reason' in selection) throw new Error(`btl openib: ${selection.reason}`);
    const modules: BtlModule[] = [];
    try {
      for (const { device, port } of selection.ports) {
        modules.push(
          new OpenibModule({
            provider: selection.provider,
            device,
            port,
            rank: ctx.rank,
            size: ctx.size,
            hostname: ctx.hostname,
            host: ctx.host,
            settings,
            log: ctx.log.bind(ctx),
          }),
        );
      }
    } catch (err) {
      for (const m of modules) void m.finalize();
      throw err;
    }
    return modules;
  },
};
