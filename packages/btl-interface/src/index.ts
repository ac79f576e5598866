// The BTL contract, and nothing that implements it: a transport package depends on this alone
// (plus @switchyard/btl-base if it wants the shared helpers), never on the BML.
export { BTL_API_VERSION, BtlFlag, Exclusivity, BtlTag } from './flags.js';
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
} from './types.js';
export { checkBtlComponent } from './check.js';
// The MCA types a component's register/open use come along: one import for a BTL package.
export type { RegisterContext, ComponentParams, OpenContext, OpenResult, ComponentParamSpec, FrameworkView } from '@switchyard/mca';
