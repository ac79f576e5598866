import { Mca, type Param, type ParamRegistry, type TrustPolicy } from '@switchyard/mca';

/**
 * The checkpoint/restart service's parameters (Open MPI's crs framework; its criu component).
 * Registered by `switchyard info` and by the tools that save and restore jobs.
 */
export function registerCriuParams(params: ParamRegistry): { readonly path: Param<'string'>; readonly restoreTimeout: Param<'integer'> } {
  return {
    restoreTimeout: params.register({
      name: 'crs_criu_restore_timeout',
      type: 'integer',
      default: 0,
      min: 0,
      help:
        'Seconds CRIU may take to restore a job before switchyard restore stops it and what it restored so far ' +
        '(damaged images can make it spin). 0: 60 s plus 1 s per 20 MB of images.',
      level: 'user',
      owner: { framework: 'crs', component: 'criu' },
    }),
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
  return (await criuSettings(io, commandLine)).path;
}

/** crs_criu_path (undefined: search), crs_criu_restore_timeout (ms; undefined: from the images' size), and mca_base_trust. */
export async function criuSettings(
  io: { cwd: string; env: NodeJS.ProcessEnv },
  commandLine: Array<[string, string]> = [],
): Promise<{ path?: string; restoreTimeoutMs?: number; trust: TrustPolicy }> {
  const mca = await Mca.load({ cwd: io.cwd, env: io.env, commandLine, searchFrom: [io.cwd], log: () => {} });
  const params = registerCriuParams(mca.params);
  mca.params.assertValid();
  const seconds = params.restoreTimeout.value;
  return {
    ...(params.path.value ? { path: params.path.value } : {}),
    ...(seconds > 0 ? { restoreTimeoutMs: seconds * 1000 } : {}),
    // Whose checkpoint folders a restore takes besides the user's and root's (mca_base_trust).
    trust: mca.trust,
  };
}
