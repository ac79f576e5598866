/**
 * @switchyard/runtime: the embedded launcher (HNP), the ranks' wire-up and modex, and the
 * out-of-band control channel between them (and to outside tools).
 */
export { launchJob } from './launch-job.js';
export { BIND_POLICIES, type BindPolicy } from './cpu-binding.js';
export { TIMEOUT_EXIT_CODE } from './job-timeout.js';
export { rankOutputFolder } from './output-files.js';
export { makeFolders } from './make-folders.js';
export type {
  ControlHost,
  JobResult,
  JobStatus,
  LaunchOptions,
  RankOutcome,
  RankState,
  RankStatus,
  RequestOptions,
  RunningJob,
  ToolCallHandler,
  ToolCaller,
} from './job-types.js';
export type { ExitStatus } from './exit-status.js';

export type { PeerActivityState, WireUp, WireUpOptions } from './wireup.js';
export { connectWireUp } from './connect-wireup.js';
export { LoopHold } from './loop-hold.js';
export { EmbeddedWireUp } from './embedded-wireup.js';
export { SingletonWireUp } from './singleton-wireup.js';
export { PmixWireUp, jobIdOf as pmixJobId } from './pmix-wireup.js';
export { RankController, usableHosts, type RankControllerOptions } from './rank-controller.js';

export { connectTool, type ToolClient } from './tool-client.js';
export { TOOL_RANK_LEAVE, TOOL_RANK_RETURN, RankMoveError, type LeaveAnswer } from './rank-move.js';
export { TOOL_JOB_EXIT_REPORT, exitReportPath, sweepExitReports, takeExitReport, type ExitReport } from './exit-report.js';
export type { MoveFifos } from './rank-process.js';
export { listJobs, readJobRecord } from './list-jobs.js';
export { findJobs } from './find-jobs.js';
export { controllerRecordsRoot, listControllerRecords, readControllerRecord, type ControllerRecord } from './controller-record.js';
export { parseTcpAddress } from './oob-tcp-auth.js';
export { ensurePrivateDir, jobDirName, SOCKET_FILE, JOB_RECORD_FILE, userJobsRoot, writeJobRecord, type JobRecord } from './job-dir.js';

export {
  LaunchError,
  RequestError,
  ToolCallError,
  ToolConnectionClosedError,
  WireUpError,
  FenceClosedError,
  type RankFailure,
  type RankFailureCode,
} from './errors.js';
export { ENV_CONTROLLER_RANK, ENV_HNP_URI, ENV_JOB_ID, ENV_JOB_SECRET, ENV_MCA_CLI, ENV_RANK, ENV_SIZE } from './env-names.js';
export { isProcessRunning, launcherAlive, launcherStopped, processStart, stoppedResumeNote } from './launcher-alive.js';
export { sweepStaleTempDirs } from './stale-temp-dirs.js';
