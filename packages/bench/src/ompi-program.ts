import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, rmSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchRunError } from './errors.js';
import { benchTempDir } from './temp-dirs.js';

/** What to install when Open MPI's tools are missing (Debian/Ubuntu package names). */
export const OMPI_PACKAGES = 'openmpi-bin libopenmpi-dev';

/** The Open MPI baseline, ready to run: mpirun, and our ping-pong program compiled with mpicc. */
export interface OmpiProgram {
  readonly mpirun: string;
  readonly program: string;
  /** Removes the private folder the program was compiled into. */
  dispose(): void;
}

/** The C programs of the Open MPI baselines, in `bench-native/`. */
export type OmpiProgramName = 'mpi_pingpong' | 'mpi_coll';

/** The C source of a baseline: `bench-native/` at the package's root, one level above src/ or dist/. */
export function ompiSource(name: OmpiProgramName = 'mpi_pingpong'): string {
  const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'bench-native', `${name}.c`);
  if (!existsSync(file)) throw new BenchRunError(`the Open MPI baseline's source ${file} is missing from the switchyard package`);
  return file;
}

/** An executable `name` on the PATH of `env`, or undefined. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Finds mpicc and mpirun on the PATH of `env` and compiles bench-native/`name`.c into a
 * private temporary folder (mode 0700), so nothing another user wrote is ever run. Rejects with
 * a BenchRunError naming what is missing, or with mpicc's own messages.
 */
export async function prepareOmpi(
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
  name: OmpiProgramName = 'mpi_pingpong',
): Promise<OmpiProgram> {
  const tools = ['mpicc', 'mpirun'].map((name) => ({ name, file: findOnPath(name, env) }));
  const missing = tools.filter((t) => !t.file).map((t) => t.name);
  if (missing.length) {
    throw new BenchRunError(
      `--ompi needs Open MPI's ${missing.join(' and ')} on PATH, not found (PATH=${env.PATH ?? ''}); on Debian or Ubuntu: apt-get ` +
        `install ${OMPI_PACKAGES}`,
    );
  }
  const [mpicc, mpirun] = tools.map((t) => t.file!) as [string, string];
  const source = ompiSource(name);
  const dir = benchTempDir('ompi');
  const program = join(dir, name);
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(mpicc, ['-O2', '-o', program, source], { env, signal, timeout: 120_000 }, (err, _stdout, stderr) => {
        if (!err) return resolve();
        if (signal.aborted) return reject(err);
        const why = stderr.trim() || err.message;
        reject(
          new BenchRunError(
            `compiling the Open MPI baseline failed (${mpicc} -O2 -o ${program} ${source}): ${why}; on Debian or Ubuntu it needs ` +
              `${OMPI_PACKAGES}`,
          ),
        );
      });
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { mpirun, program, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
