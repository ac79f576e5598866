import type { SourceLocation } from './errors.js';

/**
 * Where a parameter's value came from, lowest precedence first. The order is Open MPI's
 * (default < files < environment < command line < runtime) with cosmiconfig's project config
 * slotted between the per-user file and explicit `mca-params.conf` files. `device` is a
 * component's per-device default (Open MPI's mca-btl-openib-device-params.ini): above the
 * declared default, below anything a user sets.
 */
export const PARAM_SOURCES = [
  'default',
  'device',
  'system-file',
  'user-file',
  'project-config',
  'params-file',
  'environment',
  'command-line',
  'runtime',
] as const;

export type ParamSource = (typeof PARAM_SOURCES)[number];

export function sourceRank(source: ParamSource): number {
  return PARAM_SOURCES.indexOf(source);
}

/** A raw value for a parameter name as one source gave it, before typing. */
export interface Setting extends SourceLocation {
  readonly name: string;
  readonly raw: unknown;
  readonly source: ParamSource;
}

/** Human form used by `switchyard info`: `file (/etc/x.conf:3)`, `environment`, ... */
export function describeSource(s: { source: ParamSource } & SourceLocation): string {
  const label = s.source.replace('-', ' ');
  if (!s.file) return label;
  return `${label} (${s.file}${s.line !== undefined ? `:${s.line}` : ''})`;
}
