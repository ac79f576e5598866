import type { ParamRegistry } from '@switchyard/mca';

/** The parameter that opens the launcher's metrics endpoint, as `switchyard run --metrics-port` does. */
export const METRICS_PORT_PARAM = 'switchyard_metrics_port';

/**
 * What the launcher reads, declared where every parameter is (the ranks, `info`): a setting of it
 * is no unknown parameter, and `info` lists it.
 */
export function registerLauncherParams(params: ParamRegistry): void {
  params.register({
    name: METRICS_PORT_PARAM,
    type: 'string',
    default: '',
    help:
      "[HOST:]PORT where 'switchyard run' serves the job's counters in Prometheus' text format (HOST defaults to 127.0.0.1; port 0 " +
      'takes a free one); empty: off. The same as --metrics-port.',
    validate: (v) => (v === '' || /^(?:.+:)?\d+$/.test(v.trim()) ? undefined : `takes [HOST:]PORT, got '${v}'`),
    level: 'tuner',
    owner: { framework: 'switchyard' },
  });
}
