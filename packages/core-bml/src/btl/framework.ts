import type { FrameworkDefinition } from '@switchyard/mca';
import { BTL_API_VERSION, checkBtlComponent, type BtlComponent, type BtlInitContext, type BtlModule } from '@switchyard/btl-interface';

/** The `btl` MCA framework: transports. */
export const BTL_FRAMEWORK: FrameworkDefinition<BtlComponent, BtlModule, BtlInitContext> = Object.freeze({
  name: 'btl',
  apiVersion: BTL_API_VERSION,
  description: 'Byte transfer layer: the transports (self, tcp, openib, third-party) that carry fragments between ranks',
  checkComponent: checkBtlComponent,
  finalizeModule: (module: BtlModule) => module.finalize(),
});
