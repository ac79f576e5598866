/**
 * `@switchyard/btl-openib/admin`: the operator's side of soft verbs devices in running processes
 * (what `switchyard verbs` uses): list them, and reset, fail or restore one from outside.
 */
export {
  adminDirs,
  controlSoftDevice,
  listSoftDevices,
  SoftVerbsAdminError,
  type SoftAdminOptions,
  type SoftVerbsProcess,
} from './soft/admin-client.js';
export { softVerbsFolder, sweepSoftVerbsFolder } from './soft/runtime-dir.js';
export {
  MGMT_ACTIONS,
  SoftVerbsAdminCodes,
  type MgmtAction,
  type SoftDeviceStatus,
  type SoftVerbsAdminCode,
} from './soft/mgmt-protocol.js';
