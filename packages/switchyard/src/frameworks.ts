import { BTL_FRAMEWORK } from '@switchyard/core-bml';
import type { FrameworkDefinition } from '@switchyard/mca';

/** Every MCA framework Switchyard has; `info` lists them in this order. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- frameworks of every component type
export const FRAMEWORKS: ReadonlyArray<FrameworkDefinition<any, any, any>> = [BTL_FRAMEWORK];
