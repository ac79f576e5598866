import { Exclusivity, type BtlComponent } from '@switchyard/core-bml';
import { UdsModule } from './module.js';

/**
 * The 'uds' BTL component. Switchyard calls, in order: `register` once per process,
 * then at every (re)load `open`, `init`, and at unload each module's `finalize`, then `close`.
 */
export const component: BtlComponent = {
  // Say true only if a process using this transport survives a VM snapshot (no kernel or
  // hardware state that a snapshot cannot carry). `switchyard ctl checkpoint prepare` unloads
  // every component that says false.
  checkpointable: false,

  register(ctx) {
    // Users set these as btl_uds_<name> (--mca, config files, environment).
    ctx.param({ name: 'exclusivity', type: 'integer', default: Exclusivity.TCP + 1, min: 0, help: 'Higher wins: a peer is reached only by the reachable BTLs of the highest exclusivity.', level: 'tuner' });
    ctx.param({ name: 'latency', type: 'integer', default: 100, min: 0, help: 'Relative latency; the eager list holds the lowest.', level: 'tuner' });
    ctx.param({ name: 'bandwidth', type: 'integer', default: 10_000, min: 1, help: 'Bandwidth in Mbit/s (striping weight).', level: 'tuner' });
    ctx.param({ name: 'eager_limit', type: 'size', default: 64 * 1024, min: 1, help: 'Largest first fragment of a message, header included.', level: 'tuner' });
    ctx.param({ name: 'max_send_size', type: 'size', default: 256 * 1024, min: 1, help: 'Largest fragment send() accepts, header included.', level: 'tuner' });
    ctx.param({ name: 'high_water_mark', type: 'size', default: 4 * 1024 * 1024, min: 1, help: 'Queued bytes per peer above which send() returns false.', level: 'tuner' });
  },

  open(ctx) {
    // Check that the transport can work here; decline with a reason users will see in
    // `switchyard info`, e.g. { available: false, reason: 'no device found' }.
    ctx.log('open: nothing checked yet (see src/component.ts)');
    return { available: true };
  },

  async init(ctx) {
    const params = ctx.params;
    const module = new UdsModule({
      rank: ctx.rank,
      size: ctx.size,
      jobId: ctx.jobId,
      secret: ctx.secret,
      host: ctx.host,
      exclusivity: params.get<number>('exclusivity'),
      latency: params.get<number>('latency'),
      bandwidth: params.get<number>('bandwidth'),
      eagerLimit: params.get<number>('eager_limit'),
      maxSendSize: params.get<number>('max_send_size'),
      highWaterMark: params.get<number>('high_water_mark'),
    });
    await module.start();
    return [module];
  },

  close() {
    // Release what open acquired (nothing yet).
  },
};
