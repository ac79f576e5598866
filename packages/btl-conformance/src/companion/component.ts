import type { BtlComponent } from '@switchyard/btl-interface';
import { CompanionModule } from './module.js';

export interface CompanionComponentOptions {
  /** The component name (its parameters are `btl_<name>_*`). */
  readonly name: string;
  /** The module class: CompanionModule or a subclass that bends it (the kit's broken fixtures). */
  readonly Module?: typeof CompanionModule;
  /** Defaults of its limits. */
  readonly eagerLimit?: number;
  readonly maxSendSize?: number;
  readonly highWaterMark?: number;
  /** Runs at every init with the modules it returns. */
  readonly onInit?: (modules: CompanionModule[]) => void;
}

/** A BTL component over the companion transport, named and shaped by `options`. */
export function createCompanionComponent(options: CompanionComponentOptions): BtlComponent {
  const Module = options.Module ?? CompanionModule;
  return {
    checkpointable: true,
    register(ctx) {
      ctx.param({ name: 'exclusivity', type: 'integer', default: 0, min: 0, help: 'BTL exclusivity (0: any other BTL that reaches a peer wins).', level: 'tuner' });
      ctx.param({ name: 'eager_limit', type: 'size', default: options.eagerLimit ?? 64 * 1024, min: 1, help: 'Largest first fragment of a message.', level: 'tuner' });
      ctx.param({ name: 'max_send_size', type: 'size', default: options.maxSendSize ?? 256 * 1024, min: 1, help: 'Largest fragment.', level: 'tuner' });
      ctx.param({ name: 'high_water_mark', type: 'size', default: options.highWaterMark ?? 1024 * 1024, min: 1, help: 'Bytes in flight to one peer above which send() asks the caller to wait.', level: 'tuner' });
    },
    open(ctx) {
      if (ctx.params.get<number>('eager_limit') > ctx.params.get<number>('max_send_size')) {
        return { available: false, reason: `${ctx.params.fullName('eager_limit')} exceeds ${ctx.params.fullName('max_send_size')}` };
      }
      return { available: true };
    },
    async init(ctx) {
      const module = await (Module as unknown as { start: typeof CompanionModule.start }).start.call(
        Module,
        { component: options.name, jobId: ctx.jobId, rank: ctx.rank, hostname: ctx.hostname, secret: ctx.secret, host: ctx.host },
        {
          exclusivity: ctx.params.get<number>('exclusivity'),
          eagerLimit: ctx.params.get<number>('eager_limit'),
          maxSendSize: ctx.params.get<number>('max_send_size'),
          highWaterMark: ctx.params.get<number>('high_water_mark'),
        },
      );
      options.onInit?.([module]);
      return [module];
    },
  };
}

/** The companion BTL the kit's jobs load beside the BTL under test (component `kit_companion`). */
const component = createCompanionComponent({ name: 'kit_companion' });
export default component;
