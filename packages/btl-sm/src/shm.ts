/**
 * The shared-memory pieces other packages build on without loading the sm component: the addon
 * (segments, doorbells, CMA), the single-producer single-consumer ring and the spin-then-sleep
 * poller. The soft verbs provider (@switchyard/verbs) runs its data path over them.
 */
export { Ring } from './ring.js';
export { Poller } from './progress.js';
export { recordBytes, RING_CONTROL_BYTES } from './layout.js';
export { loadNative, unavailableReason, type Doorbell, type SmAddon } from './native.js';
