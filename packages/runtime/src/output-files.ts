import { createWriteStream, openSync, rmSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { LaunchError } from './errors.js';
import { makeFolders } from './make-folders.js';

/**
 * Open MPI 4's mpirun names the first application job of a launch 1 in the layout of
 * --output-filename; a launch here runs one job, so its folder is always 1.
 */
const JOB_FOLDER = '1';

/** Where a rank's output files go: DIR/1/rank.N (Open MPI 4's layout). */
export function rankOutputFolder(dir: string, rank: number): string {
  return join(dir, JOB_FOLDER, `rank.${rank}`);
}

/** A rank's output files; `stderr` is null when its stderr is merged into stdout. */
export interface RankOutputFiles {
  readonly stdout: WriteStream;
  readonly stderr: WriteStream | null;
}

/**
 * Creates DIR/1/rank.N/stdout (and stderr unless merged), truncating old ones. Opened
 * synchronously so a folder that cannot be written fails the launch before any rank starts.
 */
function openRankOutputFiles(dir: string, rank: number, mergeStderr: boolean, log: (line: string) => void): RankOutputFiles {
  const folder = rankOutputFolder(dir, rank);
  const open = (name: string) => {
    const path = join(folder, name);
    let file: WriteStream;
    try {
      makeFolders(folder);
      file = createWriteStream(path, { fd: openSync(path, 'w') });
    } catch (err) {
      throw new LaunchError(`cannot write rank ${rank}'s output to ${path}: ${(err as Error).message}`);
    }
    // A write failing later (disk full) loses that copy only; the terminal still gets the output.
    file.once('error', (err) => log(`cannot write rank ${rank}'s output to ${path}: ${err.message}`));
    return file;
  };
  const stdout = open('stdout');
  // Merged: no stderr file, and none of an earlier run that would pass for this one's.
  if (mergeStderr) rmSync(join(folder, 'stderr'), { force: true });
  return { stdout, stderr: mergeStderr ? null : open('stderr') };
}

/** Every rank's files, or none: when one cannot be opened, those already open are closed again. */
export function openAllRankOutputFiles(dir: string, np: number, mergeStderr: boolean, log: (line: string) => void): RankOutputFiles[] {
  const opened: RankOutputFiles[] = [];
  try {
    for (let rank = 0; rank < np; rank++) opened.push(openRankOutputFiles(dir, rank, mergeStderr, log));
    return opened;
  } catch (err) {
    for (const files of opened) [files.stdout, files.stderr].forEach((f) => f?.destroy());
    throw err;
  }
}
