import { BTL_FRAMEWORK } from '@switchyard/core-bml';
import type { FrameworkDefinition } from '@switchyard/mca';

/** Every MCA framework Switchyard has; `info` lists them in this order. */
export const FRAMEWORKS: ReadonlyArray<FrameworkDefinition<any, any, any>> = [BTL_FRAMEWORK];
