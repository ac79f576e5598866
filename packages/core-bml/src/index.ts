// The BTL contract lives in @switchyard/btl-interface; re-exported so existing imports keep working.
export * from '@switchyard/btl-interface';
export { BTL_FRAMEWORK } from './btl/framework.js';
export {
  Bml,
  BML_MARKER_TAG,
  BML_LINK_TAG,
  DrainTimeoutError,
  PeerLostError,
  type PeerStoppedCause,
  type PeerActivity,
  type FailoverOptions,
  type BmlOptions,
  type FragmentHandler,
  type TrafficPolicy,
  type FtState,
  type BmlHooks,
} from './bml/bml.js';
export { BmlEndpoint, type ComponentFilter } from './bml/bml-endpoint.js';
export { registerBmlParams } from './bml/params.js';
export { BmlBtl, type DrainKind, type LinkFailure, type TrafficCounters } from './bml/bml-btl.js';
export { Transports, UnreachableError, type Identity, type ModexEntry, type Exchange } from './transports.js';
export type { Scope } from './transports.js';
export { nodeKey, kernelFacts, type KernelFacts } from './host.js';
