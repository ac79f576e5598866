import { Exclusivity, type ComponentParams, type RegisterContext } from '@switchyard/btl-interface';
import { checkBaseSettings, readBaseSettings, registerBaseParams, type BaseSettings } from '@switchyard/btl-base';
import { ABSOLUTE_DATA_LIMIT } from './framing.js';
import { checkInterfaceItem } from './interfaces.js';

/** The component's parameters, typed, as `init` uses them. */
export interface TcpSettings extends BaseSettings {
  readonly ifInclude: readonly string[];
  readonly ifExclude: readonly string[];
  readonly portMin: number;
  readonly portRange: number;
  readonly nodelay: boolean;
  readonly highWaterMark: number;
  readonly handshakeTimeout: number;
}

function interfaceList(value: string[]): string | undefined {
  for (const item of value) {
    const problem = checkInterfaceItem(item);
    if (problem) return problem;
  }
  return undefined;
}

/** Declares `btl_tcp_*` (Open MPI's names where it has them). */
export function registerParams(ctx: RegisterContext): void {
  ctx.param({
    name: 'if_include',
    type: 'list',
    default: [],
    help:
      'Interfaces to use, by name or CIDR (e.g. lo,eth1 or 10.0.0.0/8); only these are listened on and published. ' +
      'Mutually exclusive with btl_tcp_if_exclude. Empty: loopback plus every interface that is up.',
    validate: interfaceList,
  });
  ctx.param({
    name: 'if_exclude',
    type: 'list',
    default: [],
    help: 'Interfaces not to use, by name or CIDR (e.g. docker0,172.17.0.0/16). Mutually exclusive with btl_tcp_if_include.',
    validate: interfaceList,
  });
  registerBaseParams(ctx, {
    exclusivity: Exclusivity.TCP,
    latency: 100,
    bandwidth: 10_000,
    eagerLimit: 512 * 1024,
    maxSendSize: 1024 * 1024,
    maxSendSizeRange: { max: ABSOLUTE_DATA_LIMIT },
    help: {
      eagerLimit:
        'Largest first fragment of a message, header included: messages that fit are sent eagerly (buffered by the ' +
        'receiver if no receive is posted yet); larger ones use a rendezvous (first fragment, then the rest once the ' +
        "receiver has matched it). Open MPI's tcp default is 64K; here 512K, because a rendezvous round trip costs more " +
        'than it saves up to a few hundred KiB (256 KiB messages measured about 2x faster eagerly on loopback), as ' +
        "with MPICH's 128K and Intel MPI's 256K TCP eager thresholds. Lower it to bound memory for unexpected messages.",
      maxSendSize:
        'Largest fragment, header included; also the largest frame accepted from a peer. Open MPI uses 128K; 1M here ' +
        'halves the per-fragment cost of large messages (the receive buffer of a connection grows to about twice this ' +
        'once such fragments arrive).',
    },
  });
  ctx.param({
    name: 'port_min',
    type: 'integer',
    default: 0,
    min: 0,
    max: 65535,
    help: 'Lowest port to listen on; 0 lets the system pick a free (ephemeral) port.',
  });
  ctx.param({
    name: 'port_range',
    type: 'integer',
    default: 64511,
    min: 1,
    max: 65535,
    help: 'How many ports from btl_tcp_port_min to try (ignored when btl_tcp_port_min is 0).',
  });
  ctx.param({
    name: 'nodelay',
    type: 'boolean',
    default: true,
    help: 'Set TCP_NODELAY (no Nagle delay on small fragments).',
    level: 'tuner',
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
    help: 'Milliseconds a connection may take to authenticate before it is dropped.',
    level: 'developer',
  });
}

export function readSettings(params: ComponentParams): TcpSettings {
  return {
    ifInclude: params.get<string[]>('if_include'),
    ifExclude: params.get<string[]>('if_exclude'),
    ...readBaseSettings(params),
    portMin: params.get<number>('port_min'),
    portRange: params.get<number>('port_range'),
    nodelay: params.get<boolean>('nodelay'),
    highWaterMark: params.get<number>('high_water_mark'),
    handshakeTimeout: params.get<number>('handshake_timeout'),
  };
}

/** Problems no single parameter's check can see; `open` raises them. */
export function checkSettings(s: TcpSettings, params: ComponentParams): string | undefined {
  if (s.ifInclude.length && s.ifExclude.length) {
    return (
      `${params.fullName('if_include')} (${s.ifInclude.join(',')}) and ${params.fullName('if_exclude')} (${s.ifExclude.join(',')}) ` +
      'are mutually exclusive: set only one of them'
    );
  }
  return checkBaseSettings(s, params);
}
