export { BTL_API_VERSION, BtlFlag, Exclusivity, BtlTag } from './btl/flags.js';
export type {
  BtlComponent,
  BtlFrameworkHooks,
  BtlFrameworkView,
  BtlModule,
  BtlEndpoint,
  BtlProc,
  BtlHost,
  BtlInitContext,
  BtlRegistration,
  BtlErrorEvent,
  BtlErrorSeverity,
  SendCompletion,
} from './btl/types.js';
export { BTL_FRAMEWORK, checkBtlComponent } from './btl/framework.js';
export { Bml, BML_MARKER_TAG, BML_LINK_TAG, DrainTimeoutError, PeerLostError, type FailoverOptions, type BmlOptions, type FragmentHandler, type TrafficPolicy, type FtState, type BmlHooks } from './bml/bml.js';
export { BmlEndpoint, type ComponentFilter } from './bml/bml-endpoint.js';
export { registerBmlParams } from './bml/params.js';
export { BmlBtl, type LinkFailure, type TrafficCounters } from './bml/bml-btl.js';
export { Transports, UnreachableError, type Identity, type ModexEntry, type Exchange } from './transports.js';
// A BTL package needs only this one import: the MCA types its component uses come along.
export type { RegisterContext, ComponentParams, OpenContext, OpenResult, ComponentParamSpec, FrameworkView } from '@switchyard/mca';
export type { Scope } from './transports.js';
export { nodeKey, kernelFacts, type KernelFacts } from './host.js';
