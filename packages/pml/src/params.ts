import type { Param, ParamRegistry } from '@switchyard/mca';

export interface PmlParams {
  readonly busyPoll: Param<'boolean'>;
}

/** The PML's MCA parameters; registered by every process that runs or describes a job. */
export function registerPmlParams(params: ParamRegistry): PmlParams {
  const owner = { framework: 'pml' };
  return {
    busyPoll: params.register({
      name: 'pml_busy_poll',
      type: 'boolean',
      default: false,
      help: 'Keep the event loop polling while messages are outstanding (Open MPI busy progress): lower latency for one busy core.',
      level: 'tuner',
      owner,
    }),
  };
}
