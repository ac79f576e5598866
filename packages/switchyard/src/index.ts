export { init, type InitOptions } from './app/init.js';
export { World } from './app/world.js';
export { Comm, UNDEFINED, type RecvInto } from './app/comm.js';
export { Group } from './app/group.js';
export type { AlltoallvLayout } from './app/alltoallv-layout.js';
export type { Blocks } from './app/collectives.js';
export { MpiError, type MpiErrorCode } from './app/errors.js';
export {
  SUM,
  PROD,
  MIN,
  MAX,
  LAND,
  LOR,
  LXOR,
  BAND,
  BOR,
  BXOR,
  MAXLOC,
  MINLOC,
  type BuiltinOp,
  type ReduceOp,
  type UserOp,
} from './app/ops.js';
export type { NumericArray, NumericArrayConstructor } from './app/typed.js';
export { Wtime, Wtick } from './app/wtime.js';
export { Status } from './app/status.js';
export { internals } from './app/runtime.js';
export {
  ANY_SOURCE,
  ANY_TAG,
  Request,
  RequestCancelledError,
  testAll,
  testAny,
  testSome,
  waitAll,
  waitAny,
  waitSome,
  UNDEFINED_INDEX,
  type Message,
  type ProbeResult,
  type RequestEntry,
} from '@switchyard/pml';
// What a request with a peer no transport reaches any more fails with (`ERR_SWITCHYARD_PEER_UNREACHABLE`).
export { PeerLostError, type PeerStoppedCause } from '@switchyard/core-bml';
export { SendFailedError } from '@switchyard/pml';
export { version } from './version.js';
