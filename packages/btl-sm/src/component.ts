import type { BtlComponent } from '@switchyard/btl-interface';
import { SmModule } from './module.js';
import { loadNative, unavailableReason } from './native.js';
import { checkSettings, readSettings, registerParams } from './params.js';

/**
 * btl-sm: shared memory between the ranks of one host, as Open MPI's vader. Not checkpointable:
 * its segments and doorbells are descriptors and mappings shared with other processes, which a
 * snapshot or a migration cannot carry; `checkpoint prepare` unloads it and its traffic moves to tcp.
 */
export const component: BtlComponent = {
  checkpointable: false,

  register: registerParams,

  open(ctx) {
    const problem = checkSettings(readSettings(ctx.params), ctx.params);
    if (problem) throw new Error(problem);
    if (process.platform !== 'linux') return { available: false, reason: `shared memory needs Linux, not ${process.platform}` };
    const reason = unavailableReason();
    if (reason) return { available: false, reason };
    return { available: true, details: ['segments in /dev/shm (unlinked at once), eventfd doorbells, single copy through CMA'] };
  },

  init(ctx) {
    const settings = readSettings(ctx.params);
    const problem = checkSettings(settings, ctx.params);
    if (problem) throw new Error(problem);
    const module = new SmModule({
      jobId: ctx.jobId,
      rank: ctx.rank,
      size: ctx.size,
      hostname: ctx.hostname,
      host: ctx.host,
      settings,
      addon: loadNative(),
    });
    ctx.log(`segment of ${module.businessCard.segmentSize} bytes, ${settings.fifoSize}-byte rings`);
    return [module];
  },
};
