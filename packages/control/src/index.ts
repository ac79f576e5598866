// The control plane: the coordinator (beside the job's controller), the agent in every rank, the
// wire protocol between them and module recovery. `switchyard ctl` is `./ctl`.
export { ControlAgent } from './agent.js';
export { groupRanks, rankLabel, type RankGroup } from './coordinator-group.js';
export { checkBtlName, isVerbName, validateVerb, VerbError } from './coordinator-verb.js';
export {
  installCoordinator,
  isRankStatusFailure,
  MAX_VERB_TIMEOUT_MS,
  type Coordinator,
  type CoordinatorOptions,
  type CtlParams,
  type CtlStatus,
  type CtlStatusParams,
  type RankStatusFailure,
} from './coordinator.js';
export { ModuleRecovery } from './module-recovery.js';
export {
  describeVerb,
  TOOL_CTL,
  TOOL_CTL_PROGRESS,
  TOOL_CTL_STATUS,
  VERB_NAMES,
  type CtlErrorCode,
  type LinkFailure,
  type RankStatus,
  type Verb,
  type VerbProgress,
  type VerbResult,
} from './protocol.js';
export { formatRankList, parseRankList } from './rank-list.js';
export { METRICS, MetricsListenError, renderMetrics, serveMetrics } from './metrics.js';
export { renderStatus } from './ctl/render.js';
export { HOW_TO_GET_CRIU, MIN_CRIU_VERSION, probeCriu, requireCriu, type CriuProbe } from './criu/binary.js';
export { CheckpointError, type CheckpointErrorCode } from './criu/errors.js';
export { readManifest, type CheckpointManifest } from './criu/manifest.js';
export { registerCriuParams, wantedCriu } from './criu/params.js';
export { dumpTree, restoreTree, treeIds, type TreeIds } from './criu/process-tree.js';
export { hostNetns, netnsOf } from './criu/netns.js';
export { listHosts, resolveHost, type Host } from './criu/hosts.js';
