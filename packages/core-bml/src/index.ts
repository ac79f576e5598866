export { BTL_API_VERSION, BtlFlag, Exclusivity, BtlTag } from './btl/flags.js';
export type {
  BtlComponent,
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
