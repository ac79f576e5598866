import type { ParamRegistry } from '@switchyard/mca';
import type { FailoverOptions } from './bml.js';

/** The BML's MCA parameters: how failed links are brought back and when a peer is lost. */
export function registerBmlParams(params: ParamRegistry): FailoverOptions {
  const owner = { framework: 'bml' };
  const recovery = params.register({
    name: 'bml_recovery_interval',
    type: 'integer',
    default: 5_000,
    min: 0,
    help:
      'Milliseconds a link that failed stays out of service before the BML probes it; a link that answers carries traffic again. ' +
      "A module that failed as a whole (a device reset, a port down) is probed through its component's open at this interval, and " +
        'reloaded on its rank once it would work. ' +
      '0: failed links and modules come back only by hand (ctl reset / ctl load). A peer no other link reaches is probed at once, ' +
        'whatever this says.',
    level: 'tuner',
    owner,
  });
  const peerTimeout = params.register({
    name: 'bml_peer_timeout',
    type: 'integer',
    default: 10_000,
    min: 1,
    help:
      'Milliseconds the BML keeps trying the failed links to a peer that no working link reaches (tcp reconnecting) before the peer is ' +
        'lost: ' +
      'then every operation with that peer fails with ERR_SWITCHYARD_PEER_UNREACHABLE, naming the transports tried and why.',
    level: 'tuner',
    owner,
  });
  return { recoveryIntervalMs: recovery.value, peerTimeoutMs: peerTimeout.value };
}
