import { constants } from 'node:os';

/** errno name for a number (`EINVAL` for 22), from Node's own table of the platform's errnos. */
const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/**
 * glibc's strerror() texts for the errnos the soft provider raises, so its errors read like the
 * native addon's (which passes the real strerror text).
 */
const STRERROR: Readonly<Record<string, string>> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EIO: 'Input/output error',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  EINVAL: 'Invalid argument',
  ENOSYS: 'Function not implemented',
  EOPNOTSUPP: 'Operation not supported',
  ETIMEDOUT: 'Connection timed out',
};

/** A verbs call failed: `call` is the libibverbs function (e.g. `ibv_reg_mr`), `errno` its error. */
export class VerbsError extends Error {
  override readonly name = 'VerbsError';
  /** The errno name, e.g. `EINVAL` (Node's convention for system errors). */
  readonly code: string;

  constructor(
    readonly call: string,
    readonly errno: number,
    readonly errnoText: string = errnoTextOf(errno),
    detail?: string,
  ) {
    super(
      `${call} failed: ${errnoText} (errno ${errno}${ERRNO_NAMES.has(errno) ? ` ${ERRNO_NAMES.get(errno)}` : ''})${detail ? `: ` +
        `${detail}` : ''}`,
    );
    this.code = ERRNO_NAMES.get(errno) ?? `ERRNO_${errno}`;
  }

  /** A VerbsError for an errno given by name, as the soft provider raises them. */
  static of(call: string, name: keyof typeof STRERROR & keyof typeof constants.errno, detail?: string): VerbsError {
    return new VerbsError(call, constants.errno[name], STRERROR[name], detail);
  }
}

function errnoTextOf(errno: number): string {
  const name = ERRNO_NAMES.get(errno);
  return (name && STRERROR[name]) ?? `Unknown error ${errno}`;
}
