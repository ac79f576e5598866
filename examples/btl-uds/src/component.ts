import { platform } from 'node:os';
import type { BtlComponent } from '@switchyard/btl-interface';
import { UdsModule } from './module.js';
import { checkSettings, readSettings, registerParams } from './params.js';

/**
 * btl-uds: Unix domain stream sockets between ranks of one host. Not checkpointable: a restored
 * VM may come back on another host, where the peers' sockets do not exist;
 * `switchyard ctl checkpoint prepare` moves the traffic off it and unloads it.
 */
export const component: BtlComponent = {
  checkpointable: false,

  register: registerParams,

  open(ctx) {
    if (platform() === 'win32') return { available: false, reason: 'Unix domain sockets are not used on Windows' };
    const problem = checkSettings(readSettings(ctx.params), ctx.params);
    if (problem) throw new Error(problem);
    return { available: true, details: ['same-host peers only'] };
  },

  async init(ctx) {
    const settings = readSettings(ctx.params);
    const module = new UdsModule({
      rank: ctx.rank,
      size: ctx.size,
      jobId: ctx.jobId,
      hostname: ctx.hostname,
      secret: ctx.secret,
      host: ctx.host,
      settings,
      dirParamName: ctx.params.fullName('dir'),
    });
    await module.start();
    return [module];
  },
};
