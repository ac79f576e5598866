import type { BtlComponent } from '@switchyard/btl-interface';
import { checkBaseSettings, readBaseSettings, registerBaseParams } from '@switchyard/btl-base';
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
      registerBaseParams(ctx, {
        // 0: any other BTL that reaches a peer wins; slow on purpose, so it is never preferred.
        exclusivity: 0,
        latency: 1000,
        bandwidth: 1000,
        eagerLimit: options.eagerLimit ?? 64 * 1024,
        maxSendSize: options.maxSendSize ?? 256 * 1024,
      });
      ctx.param({
        name: 'high_water_mark',
        type: 'size',
        default: options.highWaterMark ?? 1024 * 1024,
        min: 1,
        help: 'Bytes in flight to one peer above which send() asks the caller to wait.',
        level: 'tuner',
      });
    },
    open(ctx) {
      const problem = checkBaseSettings(readBaseSettings(ctx.params), ctx.params);
      return problem ? { available: false, reason: problem } : { available: true };
    },
    async init(ctx) {
      const module = await (Module as unknown as { start: typeof CompanionModule.start }).start.call(
        Module,
        { component: options.name, jobId: ctx.jobId, rank: ctx.rank, hostname: ctx.hostname, secret: ctx.secret, host: ctx.host },
        { ...readBaseSettings(ctx.params), highWaterMark: ctx.params.get<number>('high_water_mark') },
      );
      options.onInit?.([module]);
      return [module];
    },
  };
}

/** The companion BTL the kit's jobs load beside the BTL under test (component `kit_companion`). */
const component = createCompanionComponent({ name: 'kit_companion' });
export default component;
