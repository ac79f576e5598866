/** Why a checkpoint or a restore did not happen, as a code a tool can act on (never match the message). */
export type CheckpointErrorCode =
  | 'ERR_SWITCHYARD_CRIU_MISSING'
  | 'ERR_SWITCHYARD_CRIU_TOO_OLD'
  | 'ERR_SWITCHYARD_CRIU_CHECK'
  | 'ERR_SWITCHYARD_CRIU_DUMP'
  | 'ERR_SWITCHYARD_CRIU_RESTORE'
  | 'ERR_SWITCHYARD_CHECKPOINT_DIR'
  | 'ERR_SWITCHYARD_CHECKPOINT_JOB'
  | 'ERR_SWITCHYARD_CHECKPOINT_PIDS'
  | 'ERR_SWITCHYARD_MIGRATE_HOST'
  | 'ERR_SWITCHYARD_MIGRATE_RANK';

/** A refusal or failure of `checkpoint save` / `restore`. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  readonly code: CheckpointErrorCode;
  /** The job was saved before this went wrong: its checkpoint folder is complete and kept. */
  readonly saved: boolean;
  /** The CRIU log the message names, kept in a private folder (see work-dir.ts). */
  readonly log: string | undefined;
  /** Nothing was saved and the job is gone: a rank ended while CRIU held the job. */
  readonly jobEnded: boolean;

  constructor(code: CheckpointErrorCode, message: string, saved = false, more: { log?: string; jobEnded?: boolean } = {}) {
    super(message);
    this.code = code;
    this.saved = saved;
    this.log = more.log;
    this.jobEnded = more.jobEnded ?? false;
  }
}
