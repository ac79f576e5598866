import { createWriteStream, lstatSync, openSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { trustedOwner } from '@switchyard/mca';
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
  // Every rank's folder is checked before any file is opened (and truncated): a refusal changes nothing.
  for (let rank = 0; rank < np; rank++) checkRankOutputFolder(dir, rank);
  const opened: RankOutputFiles[] = [];
  try {
    for (let rank = 0; rank < np; rank++) opened.push(openRankOutputFiles(dir, rank, mergeStderr, log));
    return opened;
  } catch (err) {
    for (const files of opened) [files.stdout, files.stderr].forEach((f) => f?.destroy());
    throw err;
  }
}

/** Makes rank `rank`'s output folder and refuses it (a LaunchError) when it, or a file in it, is another user's. */
function checkRankOutputFolder(dir: string, rank: number): void {
  const folder = rankOutputFolder(dir, rank);
  try {
    makeFolders(folder);
    const files = ['stdout', 'stderr'].map((f) => join(folder, f));
    const foreign = [dir, dirname(folder), folder].map(foreignFolder).find(Boolean) ?? files.map(foreignLink).find(Boolean);
    if (foreign) throw new Error(foreign);
  } catch (err) {
    throw new LaunchError(`cannot write rank ${rank}'s output to ${join(folder, 'stdout')}: ${(err as Error).message}`);
  }
}

/**
 * Why the output must not go into `folder`: another user's link to it, another user's folder, or
 * one every user may write without the sticky bit (anyone could put a link in it in place of a
 * file). Users name these folders, often in a shared /tmp, and a job may run as root.
 */
function foreignFolder(folder: string): string | undefined {
  const link = lstatSync(folder);
  if (link.isSymbolicLink() && !trustedOwner(link.uid)) return `${folder} is a symbolic link of uid ${link.uid}; refusing to follow it`;
  const st = link.isSymbolicLink() ? statSync(folder) : link;
  if (!trustedOwner(st.uid)) return `${folder} belongs to uid ${st.uid}, not to this user or root; refusing to write there`;
  if (st.mode & 0o002 && !(st.mode & 0o1000)) return `${folder} is writable by every user; refusing to write there`;
  return undefined;
}

/** Why `path` must not be opened: a symbolic link another user owns. */
function foreignLink(path: string): string | undefined {
  const link = lstatSync(path, { throwIfNoEntry: false });
  if (link?.isSymbolicLink() && !trustedOwner(link.uid)) return `${path} is a symbolic link of uid ${link.uid}; refusing to follow it`;
  return undefined;
}
