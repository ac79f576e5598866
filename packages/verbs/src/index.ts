/** The verbs-level interface and helpers shared by both providers and the BTL. */
export type * from './types.js';
export { VerbsError } from './errors.js';
export { Access, QP_DEFAULTS, PSN_MASK, MTU_BYTES, RNR_TIMER_MS, ackTimeoutMs, sge, formatGid, parseGid, mtuToEnum } from './constants.js';
export {
  loadNative,
  nativeAvailable,
  NativeUnavailableError,
  ERR_BTL_OPENIB_UNAVAILABLE,
  ADDON_PATH_ENV,
  type LoadOptions,
} from './native/load.js';
export { createNativeProvider, NativeVerbsProvider } from './native/provider.js';
export { createSoftProvider, SoftVerbsProvider, softVerbsDir, type SoftProviderOptions } from './soft/index.js';
