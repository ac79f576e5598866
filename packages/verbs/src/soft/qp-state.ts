import { QP_DEFAULTS, PSN_MASK } from '../constants.js';
import { VerbsError } from '../errors.js';
import type { QpAttrs, QpState, QpTargetState } from '../types.js';

/** RC transitions `ibv_modify_qp` accepts (IB spec 10.3.1); anything else is EINVAL. */
const ALLOWED: Readonly<Record<QpState, readonly QpTargetState[]>> = {
  RESET: ['RESET', 'INIT', 'ERROR'],
  INIT: ['RESET', 'INIT', 'RTR', 'ERROR'],
  RTR: ['RESET', 'RTS', 'ERROR'],
  RTS: ['RESET', 'RTS', 'ERROR'],
  SQD: ['RESET', 'RTS', 'ERROR'],
  SQE: ['RESET', 'RTS', 'ERROR'],
  ERROR: ['RESET', 'ERROR'],
};

export function checkTransition(from: QpState, to: QpTargetState): void {
  if (!ALLOWED[from].includes(to)) throw VerbsError.of('ibv_modify_qp', 'EINVAL', `cannot move an RC QP from ${from} to ${to}`);
}

/** The connection attributes a soft QP keeps, with openib's defaults until set. */
export interface ConnectionAttrs {
  port: number;
  qpAccess: number;
  remoteQpn: number;
  remoteGid: string;
  /** Next PSN this QP expects as a responder. */
  rqPsn: number;
  minRnrTimer: number;
  /** Next PSN this QP sends as a requester. */
  sqPsn: number;
  timeout: number;
  retryCnt: number;
  rnrRetry: number;
}

export function initialAttrs(): ConnectionAttrs {
  return {
    port: QP_DEFAULTS.port,
    qpAccess: QP_DEFAULTS.qpAccess,
    remoteQpn: 0,
    remoteGid: '',
    rqPsn: QP_DEFAULTS.rqPsn,
    minRnrTimer: QP_DEFAULTS.minRnrTimer,
    sqPsn: QP_DEFAULTS.sqPsn,
    timeout: QP_DEFAULTS.timeout,
    retryCnt: QP_DEFAULTS.retryCnt,
    rnrRetry: QP_DEFAULTS.rnrRetry,
  };
}

function inRange(name: string, value: number | undefined, min: number, max: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
    throw VerbsError.of('ibv_modify_qp', 'EINVAL', `${name} must be an integer in ${min}..${max}`);
  }
}

/** Applies the attributes the target state takes (the RC attr mask), validating them. */
export function applyAttrs(a: ConnectionAttrs, to: QpTargetState, attrs: QpAttrs): void {
  switch (to) {
    case 'INIT':
      // The soft device has one port.
      if (attrs.port !== undefined && attrs.port !== 1)
        throw VerbsError.of('ibv_modify_qp', 'EINVAL', `port ${attrs.port} does not exist (soft0 has port 1)`);
      a.qpAccess = attrs.qpAccess ?? a.qpAccess;
      break;
    case 'RTR':
      if (attrs.remoteQpn === undefined || !attrs.dest) throw VerbsError.of('ibv_modify_qp', 'EINVAL', 'RTR needs remoteQpn and dest');
      // Soft ports are addressed like RoCE: by GID (LID 0).
      if (!attrs.dest.gid) throw VerbsError.of('ibv_modify_qp', 'EINVAL', 'the soft provider addresses peers by dest.gid');
      inRange('remoteQpn', attrs.remoteQpn, 1, 0xff_ffff);
      inRange('rqPsn', attrs.rqPsn, 0, PSN_MASK);
      inRange('minRnrTimer', attrs.minRnrTimer, 0, 31);
      a.remoteQpn = attrs.remoteQpn;
      a.remoteGid = attrs.dest.gid.toLowerCase();
      a.rqPsn = attrs.rqPsn ?? QP_DEFAULTS.rqPsn;
      a.minRnrTimer = attrs.minRnrTimer ?? a.minRnrTimer;
      break;
    case 'RTS':
      inRange('sqPsn', attrs.sqPsn, 0, PSN_MASK);
      inRange('timeout', attrs.timeout, 0, 31);
      inRange('retryCnt', attrs.retryCnt, 0, 7);
      inRange('rnrRetry', attrs.rnrRetry, 0, 7);
      a.sqPsn = attrs.sqPsn ?? a.sqPsn;
      a.timeout = attrs.timeout ?? a.timeout;
      a.retryCnt = attrs.retryCnt ?? a.retryCnt;
      a.rnrRetry = attrs.rnrRetry ?? a.rnrRetry;
      break;
    default:
      break;
  }
}

/** a - b in 24-bit PSN space, as a signed distance (-2^23 .. 2^23-1). */
export function psnDiff(a: number, b: number): number {
  const d = (a - b) & PSN_MASK;
  return d >= 0x80_0000 ? d - 0x100_0000 : d;
}
