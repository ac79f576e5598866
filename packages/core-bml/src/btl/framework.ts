import type { FrameworkDefinition } from '@switchyard/mca';
import { BTL_API_VERSION } from './flags.js';
import type { BtlComponent, BtlInitContext, BtlModule } from './types.js';

/** The `btl` MCA framework: transports. */
export const BTL_FRAMEWORK: FrameworkDefinition<BtlComponent, BtlModule, BtlInitContext> = Object.freeze({
  name: 'btl',
  apiVersion: BTL_API_VERSION,
  description: 'Byte transfer layer: the transports (self, tcp, openib, third-party) that carry fragments between ranks',
  checkComponent: checkBtlComponent,
  finalizeModule: (module: BtlModule) => module.finalize(),
});

/** What is wrong with an object exported as a BTL component, or undefined. */
export function checkBtlComponent(component: unknown): string | undefined {
  const c = component as Partial<BtlComponent>;
  if (typeof c.init !== 'function') return 'the component has no init() (see docs/writing-a-btl.md)';
  if (typeof c.checkpointable !== 'boolean') return "the component does not say whether it is 'checkpointable' (a boolean)";
  return undefined;
}

