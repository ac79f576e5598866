export { Mca, type McaOptions, type McaHooks } from './mca.js';
export { Framework, UnloadError, type FrameworkDefinition, type FrameworkHooks } from './framework.js';
export { ComponentRecord, type ComponentStatus } from './component-record.js';
export type {
  McaComponent,
  RegisterContext,
  OpenContext,
  OpenResult,
  ComponentParams,
  ComponentParamSpec,
  FrameworkView,
} from './component.js';
export { ParamRegistry, levelNumber, type ParamSpec, type ParamInfo, type Param, type RuntimeSetOptions } from './params.js';
export { ParamStore } from './param-store.js';
export {
  coerce,
  formatSize,
  formatValue,
  parseSize,
  ParamTypeError,
  LEVEL_NUMBER,
  type ParamType,
  type ParamLevel,
  type ValueOf,
} from './param-types.js';
export { PARAM_SOURCES, describeSource, type ParamSource, type Setting } from './sources.js';
export { parseSelection, isSelected, formatSelection, type Selection } from './selection.js';
export { McaIssue, McaConfigError, McaSelectionError, formatLocation, type SourceLocation } from './errors.js';
export { parseConf, readConfFile, type ConfEntry } from './conf-file.js';
export { loadProjectConfig, findConfigFile, SEARCH_PLACES, CONFIG_NAME } from './project-config.js';
export { loadSources, ENV_PREFIX, ENV_COMMAND_LINE, type SourceOptions, type SourceFiles } from './load-sources.js';
export {
  discoverComponents,
  MANIFEST_KEY,
  type ComponentManifest,
  type ComponentVia,
  type FoundComponent,
  type RefusedComponent,
  type ShadowedComponent,
  type DiscoveryProblem,
  type DiscoveryResult,
  type SearchedFolder,
} from './discovery.js';
export { findProjectRoot } from './project-root.js';
export { installingProject, resolveTrustedPackage, type TrustedPackage } from './trusted-package.js';
export {
  firstUntrusted, parseTrust, trustedOwner, untrustedReason, TRUST_PARAM, STRICT_TRUST, UntrustedFileIssue, type TrustPolicy,
} from './trust.js';
export { HookScope, ScopeDisposedError, TapKindError, type TapOnly, type HookRecord, type TappableHook } from './hook-scope.js';
export { TracePlugin } from './trace.js';
export { closest, editDistance } from './closest.js';
