import { Exclusivity, type ComponentParams, type RegisterContext } from '@switchyard/btl-interface';

/** The component's parameters, typed, as `init` uses them. */
export interface UdsSettings {
  readonly dir: string;
  readonly exclusivity: number;
  readonly latency: number;
  readonly bandwidth: number;
  readonly eagerLimit: number;
  readonly maxSendSize: number;
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
  ctx.param({
    name: 'exclusivity',
    type: 'integer',
    // Above tcp, so peers on this host use uds and the others tcp; below openib.
    default: Exclusivity.TCP + 100,
    min: 0,
    help: 'BTL exclusivity: a peer is reached only by the reachable BTLs of the highest exclusivity.',
    level: 'tuner',
  });
  ctx.param({ name: 'latency', type: 'integer', default: 50, min: 0, help: 'Relative latency; the eager list holds the lowest.', level: 'tuner' });
  ctx.param({ name: 'bandwidth', type: 'integer', default: 20_000, min: 1, help: 'Bandwidth in Mbit/s, used to weight striping across BTLs.', level: 'tuner' });
  ctx.param({ name: 'eager_limit', type: 'size', default: 64 * 1024, min: 1, help: 'Largest first fragment of a message, header included.', level: 'tuner' });
  ctx.param({ name: 'max_send_size', type: 'size', default: 1024 * 1024, min: 1, max: 1 << 30, help: 'Largest fragment, header included; also the largest one accepted.', level: 'tuner' });
  ctx.param({ name: 'high_water_mark', type: 'size', default: 4 * 1024 * 1024, min: 1, help: 'Bytes queued to one peer above which send() asks the caller to wait for writable().', level: 'tuner' });
  ctx.param({ name: 'handshake_timeout', type: 'integer', default: 5000, min: 1, help: 'Milliseconds a connection may take to authenticate.', level: 'developer' });
}

export function readSettings(params: ComponentParams): UdsSettings {
  return {
    dir: params.get<string>('dir'),
    exclusivity: params.get<number>('exclusivity'),
    latency: params.get<number>('latency'),
    bandwidth: params.get<number>('bandwidth'),
    eagerLimit: params.get<number>('eager_limit'),
    maxSendSize: params.get<number>('max_send_size'),
    highWaterMark: params.get<number>('high_water_mark'),
    handshakeTimeout: params.get<number>('handshake_timeout'),
  };
}

/** Problems no single parameter's check can see. */
export function checkSettings(s: UdsSettings, params: ComponentParams): string | undefined {
  if (s.eagerLimit > s.maxSendSize) {
    return `${params.fullName('eager_limit')} (${s.eagerLimit}) must not exceed ${params.fullName('max_send_size')} (${s.maxSendSize})`;
  }
  return undefined;
}
