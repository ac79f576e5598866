import type { Param, ParamRegistry } from '@switchyard/mca';

/**
 * How long finalize lets the transports drain. Finalize runs after its barrier, when every
 * message of the application has arrived: a link that cannot drain by then (a broken, idle
 * transport) is reported on stderr and closed, and the rank still exits 0.
 */
export function registerFinalizeParams(params: ParamRegistry): Param<'integer'> {
  return params.register({
    name: 'mpi_finalize_drain_timeout',
    type: 'integer',
    default: 10_000,
    min: 1,
    help: 'Milliseconds finalize waits for the transports to drain before it closes them anyway (reported on stderr, not an error).',
    level: 'tuner',
    owner: { framework: 'mpi' },
  });
}
