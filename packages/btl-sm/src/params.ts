import { availableParallelism } from 'node:os';
import { Exclusivity, type ComponentParams, type RegisterContext } from '@switchyard/btl-interface';
import { checkBaseSettings, readBaseSettings, registerBaseParams, type BaseSettings } from '@switchyard/btl-base';
import { RECORD_HEADER } from './layout.js';

export interface SmSettings extends BaseSettings {
  readonly fifoSize: number;
  readonly highWaterMark: number;
  readonly spinTime: number;
  readonly offloadMin: number;
  readonly offloadPieces: number;
  readonly splitMin: number;
}

const isPowerOfTwo = (n: number): boolean => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Declares `btl_sm_*` (vader's names where it has them). */
export function registerParams(ctx: RegisterContext): void {
  registerBaseParams(ctx, {
    // vader's: above every network transport, below self. Same-host peers are reached by sm alone.
    exclusivity: Exclusivity.HIGH - 1,
    latency: 1,
    bandwidth: 100_000,
    // Up to 512 KiB of payload (the limits count the header) goes through the rings: a copy in and
    // a copy out, the two sides overlapping, measured 2-4x the single copy's bandwidth at 64 and
    // 256 KiB. A single copy (RGET through CMA) costs tens of microseconds of fixed cost a message
    // here (pinning the other process's pages, the descriptor, the ACK), and wins only above.
    eagerLimit: 512 * 1024 + 64,
    maxSendSize: 512 * 1024 + 64,
    help: {
      maxSendSize: 'Largest fragment, header included: at most half of btl_sm_fifo_size minus 8, so two always fit in a ring.',
    },
  });
  ctx.param({
    name: 'fifo_size',
    type: 'size',
    default: 2 * 1024 * 1024,
    min: 64 * 1024,
    max: 1024 * 1024 * 1024,
    help:
      'Bytes of the ring each peer sends into, per sender, in this process\'s segment (a power of two). ' +
      'Only the pages used are allocated.',
    level: 'tuner',
    validate: (value) => (isPowerOfTwo(value as number) ? undefined : 'must be a power of two'),
  });
  ctx.param({
    name: 'high_water_mark',
    type: 'size',
    default: 4 * 1024 * 1024,
    min: 1,
    help: 'Bytes waiting for room in one peer\'s ring above which send() asks the caller to wait for writable().',
    level: 'tuner',
  });
  ctx.param({
    name: 'spin_time',
    type: 'integer',
    default: 20,
    min: 0,
    max: 1_000_000,
    help:
      'Microseconds the module keeps polling its rings after the last activity before the event loop sleeps on the doorbell ' +
      '(an eventfd; waking from it costs tens of microseconds). 0: sleep at once.',
    level: 'tuner',
  });
  ctx.param({
    name: 'offload_min',
    type: 'size',
    default: 8 * 1024 * 1024,
    min: 0,
    help:
      'Single copies (get, put) of at least this many bytes run on libuv\'s thread pool, off the event loop, so timers, sockets and ' +
      'further transfers go on meanwhile. 0: every copy runs on the event loop.',
    level: 'tuner',
  });
  ctx.param({
    name: 'split_min',
    type: 'size',
    default: 512 * 1024,
    min: 0,
    help:
      'Messages of at least this many bytes sent by single copy are copied by both processes: the receiver reads the first half while ' +
      'the sender writes the second (CMA is bound by the kernel\'s work per page, not by memory, and each process has a core). ' +
      '0: the receiver copies it all.',
    level: 'tuner',
  });
  ctx.param({
    name: 'offload_pieces',
    type: 'integer',
    default: 0,
    min: 0,
    max: 16,
    help:
      'Pieces an offloaded copy is split into, run side by side on the thread pool (libuv has 4 threads unless UV_THREADPOOL_SIZE ' +
      'says otherwise). 0: one per core, at most 4.',
    level: 'tuner',
  });
}

export function readSettings(params: ComponentParams): SmSettings {
  return {
    ...readBaseSettings(params),
    fifoSize: params.get<number>('fifo_size'),
    highWaterMark: params.get<number>('high_water_mark'),
    spinTime: params.get<number>('spin_time'),
    offloadMin: params.get<number>('offload_min'),
    offloadPieces: params.get<number>('offload_pieces') || Math.min(4, availableParallelism()),
    splitMin: params.get<number>('split_min'),
  };
}

/** Problems no single parameter's check can see; `open` raises them. */
export function checkSettings(s: SmSettings, params: ComponentParams): string | undefined {
  const largest = s.fifoSize / 2 - RECORD_HEADER;
  if (s.maxSendSize > largest) {
    const fifo = `${params.fullName('fifo_size')} (${s.fifoSize})`;
    return `${params.fullName('max_send_size')} (${s.maxSendSize}) must be at most half of ${fifo} minus 8, ${largest}`;
  }
  return checkBaseSettings(s, params);
}
