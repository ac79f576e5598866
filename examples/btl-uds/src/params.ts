import { Exclusivity, type ComponentParams, type RegisterContext } from '@switchyard/btl-interface';
import { checkBaseSettings, readBaseSettings, registerBaseParams, type BaseSettings } from '@switchyard/btl-base';

/** The component's parameters, typed, as `init` uses them. */
export interface UdsSettings extends BaseSettings {
  readonly dir: string;
  readonly highWaterMark: number;
  readonly handshakeTimeout: number;
}

/** Declares `btl_uds_*`. */
export function registerParams(ctx: RegisterContext): void {
  ctx.param({
    name: 'dir',
    type: 'string',
    default: '',
    help:
      'Directory in which each rank makes a private (0700) folder for its socket. Empty: $XDG_RUNTIME_DIR, else the ' +
      'temp directory, else /tmp, whichever keeps the socket path within the 107 bytes a Unix socket address holds.',
  });
  // The five every BTL has (btl_uds_exclusivity, …), declared by the btl base.
  registerBaseParams(ctx, {
    // Above tcp, so peers on this host use uds and the others tcp; below openib.
    exclusivity: Exclusivity.TCP + 100,
    latency: 50,
    bandwidth: 20_000,
    eagerLimit: 64 * 1024,
    maxSendSize: 1024 * 1024,
    maxSendSizeRange: { max: 1 << 30 },
    help: { maxSendSize: 'Largest fragment, header included; also the largest one accepted.' },
  });
  ctx.param({
    name: 'high_water_mark',
    type: 'size',
    default: 4 * 1024 * 1024,
    min: 1,
    help: 'Bytes queued to one peer above which send() asks the caller to wait for writable().',
    level: 'tuner',
  });
  ctx.param({
    name: 'handshake_timeout',
    type: 'integer',
    default: 5000,
    min: 1,
    help: 'Milliseconds a connection may take to authenticate.',
    level: 'developer',
  });
}

export function readSettings(params: ComponentParams): UdsSettings {
  return {
    dir: params.get<string>('dir'),
    ...readBaseSettings(params),
    highWaterMark: params.get<number>('high_water_mark'),
    handshakeTimeout: params.get<number>('handshake_timeout'),
  };
}

/** Problems no single parameter's check can see. */
export function checkSettings(s: UdsSettings, params: ComponentParams): string | undefined {
  return checkBaseSettings(s, params);
}
