/**
 * The management channel of a process's soft verbs devices: one JSON request per line on the
 * process's management socket, one JSON reply per line. It is the operator's side of the "HCA"
 * (what a cable pull, a firmware reset or `ibportstate` does to real hardware), so it only flips
 * device state; the data path never consults it.
 */

/** What an operator can do to a soft device from outside the process. */
export const MGMT_ACTIONS = ['reset', 'fail', 'restore'] as const;
export type MgmtAction = (typeof MGMT_ACTIONS)[number];

/**
 * `deadline` (ms since the epoch; client and process share the machine's clock): the client gives
 * up then, so a request that reaches a stopped process later is refused, never applied behind
 * the operator's back.
 */
export type MgmtRequest = ({ readonly op: 'list' } | { readonly op: MgmtAction; readonly device: string }) & { readonly deadline?: number };

/** One soft device of a process as the management channel reports it. */
export interface SoftDeviceStatus {
  readonly device: string;
  /** The port's GID while a context has the device open; null when nothing has it open. */
  readonly gid: string | null;
  readonly port: number;
  readonly state: 'ACTIVE' | 'DOWN';
  /** Open contexts (ibv_open_device) on it. */
  readonly contexts: number;
  readonly queuePairs: number;
}

export type MgmtReply =
  | { readonly ok: true; readonly pid: number; readonly devices: readonly SoftDeviceStatus[] }
  | { readonly ok: false; readonly pid: number; readonly code: SoftVerbsAdminCode; readonly message: string };

/** Typed error codes of the management channel and its client. */
export const SoftVerbsAdminCodes = Object.freeze({
  /** No process has that pid. */
  NO_PROCESS: 'ERR_SOFT_VERBS_NO_PROCESS',
  /** The process belongs to another user and we are not root. */
  PERMISSION: 'ERR_SOFT_VERBS_PERMISSION',
  /** The process has no soft verbs device (by that name). */
  NO_DEVICE: 'ERR_SOFT_VERBS_NO_DEVICE',
  /** The device exists but nothing has it open (a reset needs an open device). */
  NOT_OPEN: 'ERR_SOFT_VERBS_NOT_OPEN',
  /** The process did not answer in time (its event loop is blocked, or it is stopped). */
  TIMEOUT: 'ERR_SOFT_VERBS_TIMEOUT',
  /** A malformed request or reply. */
  PROTOCOL: 'ERR_SOFT_VERBS_PROTOCOL',
});
export type SoftVerbsAdminCode = (typeof SoftVerbsAdminCodes)[keyof typeof SoftVerbsAdminCodes];

/** Longest request line a management socket accepts. */
export const MAX_REQUEST_BYTES = 4096;

/** Parses a request line; a string is what was wrong with it. */
export function parseRequest(line: string): MgmtRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'the request is not JSON';
  }
  if (value === null || typeof value !== 'object') return 'the request is not an object';
  const { op, device, deadline } = value as Record<string, unknown>;
  if (deadline !== undefined && typeof deadline !== 'number') return 'deadline must be a number (ms since the epoch)';
  const late = deadline === undefined ? {} : { deadline };
  if (op === 'list') return { op, ...late };
  if (!(MGMT_ACTIONS as readonly unknown[]).includes(op)) return `unknown op ${JSON.stringify(op)} (list, ${MGMT_ACTIONS.join(', ')})`;
  if (typeof device !== 'string' || !device) return `${String(op)} needs a device name`;
  return { op: op as MgmtAction, device, ...late };
}
