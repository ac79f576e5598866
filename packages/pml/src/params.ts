import type { Param, ParamRegistry } from '@switchyard/mca';

export interface PmlParams {
  readonly busyPoll: Param<'boolean'>;
  readonly busyPollOversubscribed: Param<'boolean'>;
  readonly failover: Param<'boolean'>;
  readonly yieldInterval: Param<'integer'>;
  readonly sendWindow: Param<'integer'>;
}

/** The PML's MCA parameters; registered by every process that runs or describes a job. */
export function registerPmlParams(params: ParamRegistry): PmlParams {
  const owner = { framework: 'pml' };
  return {
    busyPoll: params.register({
      name: 'pml_busy_poll',
      type: 'boolean',
      default: false,
      help:
        'Keep the event loop polling while messages are outstanding (Open MPI busy progress): lower latency for one busy core. ' +
        'Not on a host running more ranks than it has cores: there ranks sleep while they wait, as Open MPI yields when idle.',
      level: 'tuner',
      owner,
    }),
    busyPollOversubscribed: params.register({
      name: 'pml_busy_poll_oversubscribed',
      type: 'boolean',
      default: false,
      help:
        'With pml_busy_poll: keep polling on a host running more ranks than it has cores too (each waiting rank then holds a core ' +
        'the rank it waits for may need).',
      level: 'tuner',
      owner,
    }),
    failover: params.register({
      name: 'pml_failover',
      type: 'boolean',
      default: true,
      help:
        'Keep every fragment until the peer acknowledges it and send it again over the transports that remain when the link it took ' +
          'fails ' +
        '(a tcp reset, a device reset); duplicates are dropped by the receiver. Off: a transport fault fails the operations it carried.',
      level: 'tuner',
      owner,
    }),
    yieldInterval: params.register({
      name: 'pml_yield_interval',
      type: 'integer',
      default: 2,
      min: 0,
      help:
        'Milliseconds the runtime lets an application run on operations that complete at once before it lets the event loop turn ' +
        '(sockets read, timers, the control agent): the bound on how long a tight send/receive loop can keep the loop from turning.',
      level: 'tuner',
      owner,
    }),
    sendWindow: params.register({
      name: 'pml_send_window',
      type: 'integer',
      default: 512,
      min: 16,
      help:
        'With pml_failover: fragments to one peer that may await its acknowledgement before more are sent. ' +
        'Bounds the memory kept for resending, and how far a sender runs ahead of a receiver.',
      level: 'tuner',
      owner,
    }),
  };
}
