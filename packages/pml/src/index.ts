export { Pml, PML_TAG, CTX_WORLD, CTX_COLLECTIVE, MAX_CONTEXT, type KeepAlive, type PmlOptions } from './pml.js';
export { ANY_SOURCE, ANY_TAG } from './matching.js';
export {
  Request,
  RequestCancelledError,
  testAll,
  testAny,
  testSome,
  UNDEFINED_INDEX,
  waitAll,
  waitAny,
  waitSome,
  type Message,
  type ProbeResult,
  type RequestEntry,
} from './request.js';
export { registerPmlParams, type PmlParams } from './params.js';
export { setYieldInterval } from './progress-gate.js';
export { PENDING_SHOWN, type PendingEntry, type PmlPeerState, type PmlRdmaStats, type PmlState } from './pml-state.js';
export { MpiError, shown, type MpiErrorCode } from './mpi-error.js';
export { SendFailedError } from './send-failed-error.js';
