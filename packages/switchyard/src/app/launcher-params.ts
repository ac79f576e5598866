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
    validate: (v) => (v.trim() === '' || metricsAddress(v) ? undefined : `takes [HOST:]PORT with PORT from 0 to 65535, got '${v}'`),
    level: 'tuner',
    owner: { framework: 'switchyard' },
  });
}

/** `[HOST:]PORT` (HOST defaults to 127.0.0.1; a bracketed IPv6 HOST loses its brackets), or undefined when it is not one. */
export function metricsAddress(text: string): { host: string; port: number } | undefined {
  const match = /^(?:(.+):)?(\d+)$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port >= 0 && port <= 65535)) return undefined;
  return { host: match[1]?.replace(/^\[(.*)\]$/, '$1') ?? '127.0.0.1', port };
}
