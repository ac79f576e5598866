export {
  asksForJson,
  HELP_OPTION,
  JSON_OPTION,
  MCA_OPTION,
  mcaPairs,
  parseArgs,
  USAGE_EXIT_CODE,
  UsageError,
  type OptionSpec,
  type ParsedArgs,
} from './args.js';
export { endOnOutputError, processIO, SIGPIPE_EXIT_CODE, type Command, type CommandIO } from './io.js';
export { runCommand } from './run-command.js';
export { describeFailure, verboseRequested } from './verbose.js';
export { childrenOf, groupMembers, isAlive } from './proc.js';
