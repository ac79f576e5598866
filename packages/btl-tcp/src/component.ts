import type { BtlComponent } from '@switchyard/btl-interface';
import { selectAddresses } from './interfaces.js';
import { TcpModule } from './module.js';
import { checkSettings, readSettings, registerParams } from './params.js';

/**
 * btl-tcp: TCP sockets between ranks, on this host (loopback) or across hosts (a network both
 * share). Checkpointable: it holds no state a VM snapshot cannot carry; after a restart on new
 * addresses it is loaded anew and publishes fresh cards.
 */
export const component: BtlComponent = {
  checkpointable: true,

  register: registerParams,

  open(ctx) {
    const settings = readSettings(ctx.params);
    const problem = checkSettings(settings, ctx.params);
    if (problem) throw new Error(problem);
    const { addresses, unmatched } = selectAddresses(settings.ifInclude, settings.ifExclude);
    const listName = ctx.params.fullName(settings.ifInclude.length ? 'if_include' : 'if_exclude');
    for (const item of unmatched) ctx.log(`${listName}: '${item}' matches no interface address on this host`);
    if (!addresses.length) {
      const list = settings.ifInclude.length ? settings.ifInclude : settings.ifExclude;
      return { available: false, reason: `no usable interface address${list.length ? ` with ${listName}=${list.join(',')}` : ''}` };
    }
    return { available: true };
  },

  async init(ctx) {
    const settings = readSettings(ctx.params);
    const problem = checkSettings(settings, ctx.params);
    if (problem) throw new Error(problem);
    const { addresses } = selectAddresses(settings.ifInclude, settings.ifExclude);
    if (!addresses.length) throw new Error('btl tcp: no usable interface address');
    const module = await TcpModule.start({
      jobId: ctx.jobId,
      rank: ctx.rank,
      size: ctx.size,
      hostname: ctx.hostname,
      secret: ctx.secret,
      host: ctx.host,
      settings,
      addresses,
    });
    ctx.log(`listening on ${module.businessCard.addresses.map((a) => `${a.address}:${a.port}`).join(', ')}`);
    return [module];
  },
};
