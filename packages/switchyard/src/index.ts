export { init, type InitOptions } from './app/init.js';
export { World } from './app/world.js';
export { SUM, PROD, MIN, MAX, type ReduceOp } from './app/ops.js';
export type { NumericArray } from './app/typed.js';
export { ANY_SOURCE, ANY_TAG, waitAll, waitAny, type Message, type ProbeResult, type Request } from '@switchyard/pml';
export { version } from './version.js';
