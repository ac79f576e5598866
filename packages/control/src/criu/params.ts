import { Mca, type Param, type ParamRegistry } from '@switchyard/mca';

/**
 * The checkpoint/restart service's parameters (Open MPI's crs framework; its criu component).
 * Registered by `switchyard info` and by the tools that save and restore jobs.
 */
export function registerCriuParams(params: ParamRegistry): { readonly path: Param<'string'> } {
  return {
    path: params.register({
      name: 'crs_criu_path',
      type: 'string',
      default: '',
      help:
        'The CRIU binary that saves and restores jobs (4.2 or newer). ' +
        'Empty: the first criu on PATH, /usr/local/sbin, /usr/sbin or /sbin.',
      level: 'user',
      owner: { framework: 'crs', component: 'criu' },
    }),
  };
}

/** The CRIU a command asked for: --criu PATH, else crs_criu_path (files, environment, --mca), else none (search). */
export async function wantedCriu(
  option: string | undefined,
  io: { cwd: string; env: NodeJS.ProcessEnv },
  commandLine: Array<[string, string]> = [],
): Promise<string | undefined> {
  if (option) return option;
  const mca = await Mca.load({ cwd: io.cwd, env: io.env, commandLine, searchFrom: [io.cwd], log: () => {} });
  return registerCriuParams(mca.params).path.value || undefined;
}
