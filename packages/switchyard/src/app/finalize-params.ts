import type { ParamRegistry } from '@switchyard/mca';

/**
 * How long finalize lets the transports drain. Finalize runs after its barrier, when every
 * message of the application has arrived: a link that cannot drain by then (a broken, idle
 * transport) is reported on stderr and closed, and the rank still exits 0.
 *
 * And how long a finalized rank may stay alive before it says what keeps its event loop turning
 * (a timer or socket left open: the job would otherwise just never end).
 */
export function registerFinalizeParams(params: ParamRegistry): void {
  params.register({
    name: 'mpi_finalize_drain_timeout',
    type: 'integer',
    default: 10_000,
    min: 1,
    help: 'Milliseconds finalize waits for the transports to drain before it closes them anyway (reported on stderr, not an error).',
    level: 'tuner',
    owner: { framework: 'mpi' },
  });
  params.register({
    name: 'mpi_finalize_exit_note',
    type: 'integer',
    default: 10_000,
    min: 0,
    help: 'Milliseconds after finalize at which a rank whose process has not ended says on stderr what keeps it alive (0: never).',
    level: 'tuner',
    owner: { framework: 'mpi' },
  });
}
