import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from './errors.js';
import type { OutsideFd, TreeIds } from './process-tree.js';

/** What a checkpoint folder holds besides the CRIU images: enough to restore and to judge it. */
export interface CheckpointManifest {
  readonly format: 1;
  readonly jobId: string;
  readonly np: number;
  readonly script: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The launcher's command line, as it was started. */
  readonly commandLine: readonly string[];
  /** The job's --mca pairs (the selection asked for), as its ranks got them. */
  readonly mca: ReadonlyArray<readonly [string, string]>;
  readonly launcherPid: number;
  readonly ranks: ReadonlyArray<{
    readonly rank: number;
    readonly pid: number;
    readonly host: string;
    /** Components loaded when the save began, and whether each can be checkpointed. */
    readonly components: ReadonlyArray<{ readonly name: string; readonly checkpointable: boolean }>;
    /** The send list to each peer when the save began: the policy in force. */
    readonly send: ReadonlyArray<{ readonly peer: number; readonly btls: readonly string[] }>;
    /** Resident memory before the dump. */
    readonly rssBytes: number;
    /** Its share of the images: its memory pages and its own image files. */
    readonly imageBytes: number;
  }>;
  readonly hosts: readonly string[];
  /** `checkpoint prepare` unloaded these; `checkpoint continue` loads them again after the restore. */
  readonly unloadedByPrepare: readonly string[];
  readonly criu: { readonly path: string; readonly version: string };
  readonly ids: TreeIds;
  /** The launcher was not its session's leader: dumped and restored with --shell-job. */
  readonly shellJob: boolean;
  /** The launcher's stdio that led outside the job (re-attached at restore). */
  readonly stdio: readonly OutsideFd[];
  /** Files the launcher wrote to (its per-rank output files): re-attached at restore, appending. Absent before 2026-12. */
  readonly outputFiles?: readonly string[];
  readonly leaveRunning: boolean;
  readonly sizes: { readonly imagesBytes: number; readonly launcherRssBytes: number; readonly launcherImageBytes: number };
  readonly times: { readonly savedAt: string; readonly prepareMs: number; readonly dumpMs: number; readonly continueMs?: number };
}

export const MANIFEST_FILE = 'manifest.json';
/** The job's record (with its secret, so 0600): the restored job's folder gets it back. */
export const JOB_RECORD_COPY = 'job.json';
export const IMAGES_DIR = 'images';

export function writeManifest(dir: string, manifest: CheckpointManifest): void {
  writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
}

export function readManifest(dir: string): CheckpointManifest {
  const path = join(dir, MANIFEST_FILE);
  let manifest: Partial<CheckpointManifest>;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as Partial<CheckpointManifest>;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (err as Error).message;
    const what = `${dir} is not a checkpoint made by 'switchyard ctl checkpoint save': ${path} ${why}`;
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', what);
  }
  if (manifest.format !== 1 || typeof manifest.jobId !== 'string' || !manifest.ids || !manifest.criu) {
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', `${path} is not a checkpoint manifest of this version (format 1)`);
  }
  return manifest as CheckpointManifest;
}

/** Bytes of the files below `dir`. */
export function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(path) : statSync(path).size;
  }
  return total;
}

/** VmRSS of a process in bytes (0 when it is gone). */
export function rssBytes(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Each process's share of CRIU's images: its `*-PID.img` files and the `pages-ID.img` its pagemap
 * names. A pagemap image is CRIU's two magic words, a 32-bit length and the PagemapHead message,
 * whose field 1 (a varint) is that ID.
 */
export function imageBytesByPid(imagesDir: string): Map<number, number> {
  const bytes = new Map<number, number>();
  const add = (pid: number, n: number) => bytes.set(pid, (bytes.get(pid) ?? 0) + n);
  for (const name of readdirSync(imagesDir)) {
    const own = /-(\d+)\.img$/.exec(name);
    if (!own || name.startsWith('pages-')) continue;
    const pid = Number(own[1]);
    add(pid, statSync(join(imagesDir, name)).size);
    if (!name.startsWith('pagemap-')) continue;
    const head = readFileSync(join(imagesDir, name)).subarray(12, 24);
    if (head[0] !== 0x08) continue;
    let id = 0;
    for (let i = 1, shift = 0; i < head.length; i++, shift += 7) {
      id |= (head[i]! & 0x7f) << shift;
      if (!(head[i]! & 0x80)) break;
    }
    try {
      add(pid, statSync(join(imagesDir, `pages-${id}.img`)).size);
    } catch {}
  }
  return bytes;
}
