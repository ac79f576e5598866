import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { UsageError } from '@switchyard/cli-kit';
import { Mca } from '@switchyard/mca';

/** `@switchyard/mpi`'s folder: the transports the jobs use sit beside it (an isolated install puts them nowhere else). */
const MPI_INSTALLATION = [dirname(createRequire(import.meta.url).resolve('@switchyard/mpi/package.json'))];

/**
 * `--btl` names that no btl component found here declares are a usage error before any run
 * starts (as `--ompi-btl`'s), not a job that fails after the others ran. Found as the jobs find
 * them: the project of the working folder, Switchyard's own, `mca_component_path`. A
 * configuration that cannot be read is left for the jobs to report.
 */
export async function refuseUnknownBtls(
  btls: readonly string[],
  where: { cwd: string; env: NodeJS.ProcessEnv; mca: ReadonlyArray<readonly [string, string]> },
): Promise<void> {
  let mca: Mca;
  try {
    mca = await Mca.load({
      cwd: where.cwd,
      env: where.env,
      commandLine: where.mca.map(([k, v]) => [k, v] as [string, string]),
      searchFrom: [where.cwd],
      installation: MPI_INSTALLATION,
      warnings: false,
      log: () => {},
    });
  } catch {
    return;
  }
  const known = mca.discover().found.filter((c) => c.manifest.framework === 'btl').map((c) => c.manifest.component);
  const unknown = btls.filter((b) => !known.includes(b));
  if (!unknown.length) return;
  const names = unknown.map((b) => `'${b}'`).join(', ');
  throw new UsageError(`--btl: no btl component ${names} here (found: ${[...new Set(known)].sort().join(', ')})`);
}
