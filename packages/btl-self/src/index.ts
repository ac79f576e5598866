import type { BtlComponent } from '@switchyard/btl-interface';
import { SelfModule } from './module.js';

/** btl-self: a rank's messages to itself, without touching a socket. */
const component: BtlComponent = {
  checkpointable: true,
  register(ctx) {
    ctx.param({ name: 'eager_limit', type: 'size', default: 64 * 1024, help: 'Largest message sent to self in one fragment (header included).', level: 'tuner' });
    ctx.param({ name: 'max_send_size', type: 'size', default: 1024 * 1024, help: 'Largest fragment of a larger message sent to self.', level: 'tuner' });
  },
  init(ctx) {
    return [
      new SelfModule(ctx.rank, ctx.host, {
        eagerLimit: ctx.params.get<number>('eager_limit'),
        maxSendSize: ctx.params.get<number>('max_send_size'),
      }),
    ];
  },
};

export default component;
export { SelfModule };
