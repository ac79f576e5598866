import { Exclusivity, type BtlComponent } from '@switchyard/btl-interface';
import { checkBaseSettings, readBaseSettings, registerBaseParams } from '@switchyard/btl-base';
import { SelfModule } from './module.js';

/** btl-self: a rank's messages to itself, without touching a socket. */
const component: BtlComponent = {
  checkpointable: true,
  register(ctx) {
    registerBaseParams(ctx, {
      // Only self reaches a rank's own messages, so nothing competes with its rank.
      exclusivity: Exclusivity.HIGH,
      latency: 0,
      bandwidth: 100_000,
      eagerLimit: 64 * 1024,
      maxSendSize: 1024 * 1024,
      help: {
        eagerLimit: 'Largest message sent to self in one fragment (header included).',
        maxSendSize: 'Largest fragment of a larger message sent to self.',
      },
    });
  },
  open(ctx) {
    // An eager limit above the largest fragment would refuse every eager message between the two.
    const problem = checkBaseSettings(readBaseSettings(ctx.params), ctx.params);
    return problem ? { available: false, reason: problem } : { available: true };
  },
  init(ctx) {
    return [new SelfModule(ctx.rank, ctx.host, readBaseSettings(ctx.params))];
  },
};

export default component;
export { SelfModule };
