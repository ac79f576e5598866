import type { ComponentParams, RegisterContext } from '@switchyard/btl-interface';

/**
 * The parameters every BTL has (Open MPI's `btl_base_mca.c`): one registration, so each
 * component names them `btl_<component>_<name>` alike. The control plane relies on it: `ctl
 * apply` re-ranks a running job's transport through `btl_<component>_exclusivity`.
 */
export interface BaseSettings {
  readonly exclusivity: number;
  readonly latency: number;
  readonly bandwidth: number;
  readonly eagerLimit: number;
  readonly maxSendSize: number;
}

/** A component's defaults and, where it has more to say, its own help text. */
export interface BaseParamDefaults extends BaseSettings {
  /** Bounds of `max_send_size` (e.g. a receive buffer's minimum, the 32-bit length of a frame). */
  readonly maxSendSizeRange?: { readonly min?: number; readonly max?: number };
  readonly help?: { readonly [K in keyof BaseSettings]?: string };
}

const HELP: { readonly [K in keyof BaseSettings]: string } = {
  exclusivity:
    'BTL exclusivity: a peer is reached only by the reachable BTLs of the highest exclusivity. A running job takes a new value from ' +
      "'switchyard ctl apply'.",
  latency: 'Relative latency; the eager list holds the lowest.',
  bandwidth: 'Bandwidth in Mbit/s, used to weight striping across BTLs.',
  eagerLimit: 'Largest first fragment of a message, header included: messages that fit are sent eagerly.',
  maxSendSize: 'Largest fragment send() accepts, header included.',
};

/** Declares `btl_<c>_exclusivity`, `latency`, `bandwidth`, `eager_limit` and `max_send_size`. */
export function registerBaseParams(ctx: RegisterContext, defaults: BaseParamDefaults): void {
  const help = { ...HELP, ...defaults.help };
  ctx.param({
    name: 'exclusivity',
    type: 'integer',
    default: defaults.exclusivity,
    min: 0,
    help: help.exclusivity,
    level: 'tuner',
    runtimeSettable: true,
  });
  ctx.param({ name: 'latency', type: 'integer', default: defaults.latency, min: 0, help: help.latency, level: 'tuner' });
  ctx.param({ name: 'bandwidth', type: 'integer', default: defaults.bandwidth, min: 1, help: help.bandwidth, level: 'tuner' });
  ctx.param({ name: 'eager_limit', type: 'size', default: defaults.eagerLimit, min: 1, help: help.eagerLimit, level: 'tuner' });
  const range = defaults.maxSendSizeRange ?? {};
  ctx.param({
    name: 'max_send_size',
    type: 'size',
    default: defaults.maxSendSize,
    min: range.min ?? 1,
    ...(range.max !== undefined ? { max: range.max } : {}),
    help: help.maxSendSize,
    level: 'tuner',
  });
}

export function readBaseSettings(params: ComponentParams): BaseSettings {
  return {
    exclusivity: params.get<number>('exclusivity'),
    latency: params.get<number>('latency'),
    bandwidth: params.get<number>('bandwidth'),
    eagerLimit: params.get<number>('eager_limit'),
    maxSendSize: params.get<number>('max_send_size'),
  };
}

/** What no single parameter's check can see: the eager limit must fit in a fragment. */
export function checkBaseSettings(s: BaseSettings, params: ComponentParams): string | undefined {
  if (s.eagerLimit > s.maxSendSize) {
    return `${params.fullName('eager_limit')} (${s.eagerLimit}) must not exceed ${params.fullName('max_send_size')} (${s.maxSendSize})`;
  }
  return undefined;
}
