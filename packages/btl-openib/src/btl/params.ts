import { Exclusivity, type ComponentParams, type RegisterContext } from '@switchyard/btl-interface';
import { checkBaseSettings, readBaseSettings, registerBaseParams, type BaseSettings } from '@switchyard/btl-base';

export type ProviderSetting = 'auto' | 'native' | 'soft';

/** The component's parameters, typed. */
export interface OpenibSettings extends BaseSettings {
  readonly provider: ProviderSetting;
  readonly ifInclude: readonly string[];
  readonly rdmaPipelineSendLength: number;
  readonly recvBuffers: number;
  readonly timeout: number;
  readonly retryCount: number;
  readonly rnrRetry: number;
  readonly minRnrTimer: number;
  readonly connectTimeout: number;
}

/** Declares `btl_openib_*`, with Open MPI's names and defaults where it has them. */
export function registerParams(ctx: RegisterContext): void {
  ctx.param({
    name: 'provider',
    type: 'enum',
    values: ['auto', 'native', 'soft'],
    default: 'auto',
    help:
      'Verbs provider: native (libibverbs and an RDMA device), soft (the software provider: verbs in userspace between ' +
      'processes of this machine, no hardware), or auto (native when a device exists; soft only when asked for).',
  });
  ctx.param({
    name: 'if_include',
    type: 'list',
    default: [],
    help: 'Devices or device:port pairs to use (e.g. mlx5_0 or mlx5_0:1). Empty: every active port.',
  });
  registerBaseParams(ctx, {
    exclusivity: Exclusivity.DEFAULT,
    latency: 4,
    bandwidth: 40_000,
    eagerLimit: 12 * 1024,
    maxSendSize: 64 * 1024,
    maxSendSizeRange: { min: 64, max: 1 << 30 },
    help: { maxSendSize: 'Largest fragment, header included: the size of each pre-posted receive buffer.' },
  });
  ctx.param({
    name: 'rdma_pipeline_send_length',
    type: 'size',
    default: 1024 * 1024,
    min: 0,
    help: 'Bytes of a large message sent by send/receive before the rest goes by RDMA.',
    level: 'tuner',
  });
  ctx.param({
    name: 'recv_buffers',
    type: 'integer',
    default: 16,
    min: 2,
    max: 4096,
    help: "Receive buffers pre-posted per peer: the send credits a peer starts with (Open MPI's per-peer receive queue).",
    level: 'tuner',
  });
  ctx.param({
    name: 'ib_timeout',
    type: 'integer',
    default: 14,
    min: 1,
    max: 31,
    help:
      'Local ACK timeout, 4.096 us * 2^value (14 = 67 ms). Also how long a QP waits before retransmitting to a peer whose QP ' +
      'is not ready yet; raise it on large fabrics (Open MPI uses 20).',
    level: 'tuner',
  });
  ctx.param({
    name: 'ib_retry_count',
    type: 'integer',
    default: 7,
    min: 0,
    max: 7,
    help: 'Transport retries before a QP fails (RETRY_EXC_ERR).',
    level: 'tuner',
  });
  ctx.param({
    name: 'ib_rnr_retry',
    type: 'integer',
    default: 7,
    min: 0,
    max: 7,
    help: 'Receiver-not-ready retries before a QP fails; 7 means retry forever.',
    level: 'tuner',
  });
  ctx.param({
    name: 'ib_min_rnr_timer',
    type: 'integer',
    default: 12,
    min: 0,
    max: 31,
    help: 'RNR NAK timer a sender waits (IB encoding; 12 = 0.64 ms).',
    level: 'developer',
  });
  ctx.param({
    name: 'connect_timeout',
    type: 'integer',
    default: 30_000,
    min: 1,
    help: 'Milliseconds to wait for a peer QP to become ready after add_procs before the link is reported failed.',
    level: 'tuner',
  });
}

export function readSettings(params: ComponentParams): OpenibSettings {
  return {
    provider: params.get<ProviderSetting>('provider'),
    ifInclude: params.get<string[]>('if_include'),
    ...readBaseSettings(params),
    rdmaPipelineSendLength: params.get<number>('rdma_pipeline_send_length'),
    recvBuffers: params.get<number>('recv_buffers'),
    timeout: params.get<number>('ib_timeout'),
    retryCount: params.get<number>('ib_retry_count'),
    rnrRetry: params.get<number>('ib_rnr_retry'),
    minRnrTimer: params.get<number>('ib_min_rnr_timer'),
    connectTimeout: params.get<number>('connect_timeout'),
  };
}

/** Problems no single parameter's check can see. */
export const checkSettings: (s: OpenibSettings, params: ComponentParams) => string | undefined = checkBaseSettings;
