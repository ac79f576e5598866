import type { BtlComponent } from './types.js';

/** What is wrong with an object exported as a BTL component, or undefined. */
export function checkBtlComponent(component: unknown): string | undefined {
  const c = component as Partial<BtlComponent>;
  if (typeof c.init !== 'function') return 'the component has no init() (see docs/writing-a-btl.md)';
  if (typeof c.checkpointable !== 'boolean') return "the component does not say whether it is 'checkpointable' (a boolean)";
  return undefined;
}
