/**
 * `switchyard ctl checkpoint save DIR`: `checkpoint prepare`, then a CRIU dump of the job's launcher
 * and every rank into DIR with a manifest; the job is gone afterwards, or runs on (`--leave-running`,
 * then `checkpoint continue`). Every refusal happens before the job is touched, or is undone.
 */
import {
  accessSync, constants, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandIO } from '@switchyard/cli-kit';
import { ENV_MCA_CLI, isProcessRunning, makeFolders, type JobRecord, type ToolClient } from '@switchyard/runtime';
import type { CtlStatus } from '../coordinator.js';
import { isRankStatusFailure } from '../coordinator.js';
import { TOOL_CTL, TOOL_CTL_STATUS, type RankStatus, type VerbResult } from '../protocol.js';
import { requireCriu } from '../criu/binary.js';
import { CheckpointError } from '../criu/errors.js';
import { settleCriuLog } from '../criu/work-dir.js';
import {
  folderBytes,
  imageBytesByPid,
  IMAGES_DIR,
  JOB_RECORD_COPY,
  rssBytes,
  writeManifest,
  type CheckpointManifest,
} from '../criu/manifest.js';
import {
  dumpTree,
  inodesHeldBy,
  isSessionLeader,
  outsideFds,
  writtenFiles,
  treeIds,
  type OutsideFd,
  type TreeIds,
} from '../criu/process-tree.js';
import { GoneWatch } from './gone-watch.js';
import { holdStopSignals } from './stop-signals.js';
import { dumpTicker } from './dump-ticker.js';
import { formatMs, summarizeErrors } from './render.js';
import { call, type Connect } from './tool-call.js';

export interface SaveOptions {
  readonly dir: string;
  readonly leaveRunning: boolean;
  /** --criu PATH (or crs_criu_path). */
  readonly criu: string | undefined;
  readonly json: boolean;
  readonly timeoutMs: number | undefined;
}

/** How long the dumped processes get to disappear (CRIU kills them once their images are written). */
const GONE_TIMEOUT_MS = 10_000;
/** How long a launcher that lost a rank during a failed dump gets to end the job (it aborts at once). */
const ABORT_SEEN_MS = 3_000;

/** Opens a tool connection to the job (the ctl command's, with its error wording). */
export async function checkpointSave(job: JobRecord, connect: Connect, o: SaveOptions, io: CommandIO): Promise<number> {
  const progress = (line: string) => void io.stderr.write(`checkpoint save: ${line}\n`);
  const dir = resolve(io.cwd, o.dir);
  // Refusals that need neither the job nor the folder come first: nothing to undo.
  const criu = requireCriu(o.criu, io.env);
  if (job.launcher === 'pmix') {
    const why = `job ${job.jobId} was started by mpirun or srun: save dumps a job started by 'switchyard run' (its launcher and ranks)`;
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', why);
  }
  const created = claimDir(dir);
  const images = join(dir, IMAGES_DIR);
  let client: ToolClient | undefined;
  let prepared = false;
  let dumping: GoneWatch | undefined;
  let deadInImages: RankStatus[] | undefined;
  let dumped = false;
  // Ctrl-C, SIGTERM and SIGHUP are held for the whole save: before the dump they stop it once the step
  // under way has answered, and what it did is undone; once CRIU holds the job the save finishes.
  let interrupted: NodeJS.Signals | undefined;
  const release = holdStopSignals((signal) => {
    interrupted = signal;
    if (dumping) progress(`${signal}: CRIU holds the job's processes, and stopping now would lose them; the save finishes first`);
    else progress(`${signal}: stopping before the dump; what checkpoint prepare changed is undone`);
  });
  const stopIfInterrupted = () => {
    if (interrupted) throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', `stopped by ${interrupted} before the dump`);
  };
  try {
    client = await connect(job);
    const ranks = await answeringRanks(client);
    stopIfInterrupted();
    progress(`job ${job.jobId}: checkpoint prepare (only checkpointable transports stay loaded)`);
    const prepare = await verb(client, 'prepare', o.timeoutMs, { saveTo: dir, leaveRunning: o.leaveRunning });
    if (!prepare.ok) {
      const reasons = summarizeErrors(prepare.errors);
      // A rank died meanwhile: the job ends (the folder stays as it was), it is not left as before.
      const jobEnded = prepare.errors.some((e) => e.code === 'ERR_CTL_JOB_ABORTING');
      throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', `checkpoint prepare ${prepare.outcome}: ${reasons}`, false, { jobEnded });
    }
    prepared = true;
    stopIfInterrupted();
    const tree = describeTree(job.pid, ranks);
    // An open connection to the launcher's socket would be a socket CRIU cannot dump.
    client.close();
    client = undefined;
    try {
      mkdirSync(images, { mode: 0o700 });
    } catch (err) {
      throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', `cannot create ${images}: ${(err as Error).message}`);
    }
    const counts = `${tree.ids.pids.length} processes, ${tree.ids.tids.length} threads`;
    progress(`dumping the launcher and ${ranks.length} ranks (${counts}) with CRIU ${criu.version}`);
    const savedAt = new Date().toISOString();
    stopIfInterrupted();
    dumping = new GoneWatch(ranks);
    const stopTicker = dumpTicker(images, progress);
    const dump = await dumpTree({
      criu: criu.path,
      pid: job.pid,
      imagesDir: images,
      leaveRunning: o.leaveRunning,
      shellJob: tree.shellJob,
      outside: tree.stdio,
      keepLog: true,
    }).finally(stopTicker);
    const firstGone = dumping.stop();
    // A rank killed while CRIU held the job is saved as the zombie it is, or not at all, without
    // its memory: no checkpoint of the job. Named as first seen gone during the dump when that
    // was some of the ranks (CRIU stops them all once the tree is saved).
    const memoryless = ranks.filter((r) => !existsSync(join(images, `mm-${r.pid}.img`)));
    if (memoryless.length) {
      deadInImages = firstGone.length && firstGone.length < ranks.length ? [...firstGone] : memoryless;
      const which = memoryless.map((r) => r.rank).join(', ');
      const why = `CRIU's images hold no memory of rank ${which} (log: ${dump.log})`;
      throw new CheckpointError('ERR_SWITCHYARD_CRIU_DUMP', why, false, { log: dump.log });
    }
    settleCriuLog(dump.log, false);
    // From here on the images are the job (it is gone without --leave-running): they are kept.
    dumped = true;
    prepared = o.leaveRunning;
    let manifest = buildManifest(job, ranks, tree, criu, o.leaveRunning, images, { savedAt, prepareMs: prepare.ms, dumpMs: dump.ms });
    writeManifest(dir, manifest);
    writeFileSync(join(dir, JOB_RECORD_COPY), `${JSON.stringify(job, null, 2)}\n`, { mode: 0o600 });
    if (o.leaveRunning) {
      client = await reconnect(connect, job);
      const resumed = await verb(client, 'continue', o.timeoutMs);
      if (!resumed.ok) {
        const reasons = summarizeErrors(resumed.errors);
        throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', `checkpoint continue failed: ${reasons}`, true);
      }
      prepared = false;
      manifest = { ...manifest, times: { ...manifest.times, continueMs: resumed.ms } };
      writeManifest(dir, manifest);
    } else {
      await waitGone(tree.ids.pids);
    }
    report(io, o, manifest, dir);
    return 0;
  } catch (thrown) {
    let err = thrown;
    if (!dumped) {
      // A rank (or the launcher) that ended while CRIU held the job failed the dump, not CRIU.
      const ended = dumping ? await endedDuringDump(job, deadInImages ?? dumping.stop()) : undefined;
      const log = err instanceof CheckpointError ? err.log : undefined;
      if (ended) {
        err = new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', `${ended} (${(err as Error).message})`, false, {
          ...(log ? { log } : {}),
          jobEnded: true,
        });
      }
    }
    // Before the dump nothing changed: the job runs on as before (its transports back), the folder as it was.
    if (prepared) await undoPrepare(client, connect, job, o.timeoutMs);
    if (!dumped) rmSync(created ? dir : images, { recursive: true, force: true });
    if (!dumped || (err instanceof CheckpointError && err.saved)) throw err;
    throw new CheckpointError(err instanceof CheckpointError ? err.code : 'ERR_SWITCHYARD_CHECKPOINT_JOB', (err as Error).message, true);
  } finally {
    release();
    client?.close();
  }
}

/**
 * After a failed dump, what ended meanwhile, if anything: the ranks first seen gone while CRIU
 * held the job (the launcher then aborts it), or the launcher.
 */
async function endedDuringDump(job: JobRecord, gone: readonly RankStatus[]): Promise<string | undefined> {
  if (!gone.length && isProcessRunning(job.pid)) return undefined;
  const deadline = Date.now() + ABORT_SEEN_MS;
  while (isProcessRunning(job.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const who = gone.length
    ? `rank ${gone.map((r) => `${r.rank} (pid ${r.pid})`).join(', ')} ended`
    : `the launcher (pid ${job.pid}) ended`;
  const after = isProcessRunning(job.pid) ? `job ${job.jobId} has lost it` : `job ${job.jobId} has ended`;
  return `${who} while CRIU was dumping the job, and ${after}: nothing was saved`;
}

/** Every rank's status; a rank that does not answer cannot be prepared. */
async function answeringRanks(client: ToolClient): Promise<RankStatus[]> {
  const status = (await call(client, TOOL_CTL_STATUS, {}, 15_000)) as CtlStatus;
  const silent = status.ranks.filter(isRankStatusFailure);
  if (silent.length) {
    const which = silent.map((r) => r.rank).join(', ');
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', `rank ${which} did not answer: ${silent[0]!.error}`);
  }
  return status.ranks as RankStatus[];
}

/** What the dump needs to know of the launcher's tree, and what the manifest records of it, read before the dump. */
interface TreeFacts {
  readonly ids: TreeIds;
  readonly shellJob: boolean;
  readonly stdio: OutsideFd[];
  readonly outputFiles: string[];
  readonly rss: Map<number, number>;
  readonly commandLine: string[];
  /** The job's --mca pairs, as its ranks got them. */
  readonly mca: Array<[string, string]>;
}

function describeTree(pid: number, ranks: readonly RankStatus[]): TreeFacts {
  const ids = treeIds(pid);
  return {
    ids,
    shellJob: !isSessionLeader(pid),
    stdio: outsideFds(pid, inodesHeldBy(ids.pids.filter((p) => p !== pid))),
    outputFiles: writtenFiles(pid),
    rss: new Map(ids.pids.map((p) => [p, rssBytes(p)])),
    commandLine: procText(`/proc/${pid}/cmdline`).split('\0').filter(Boolean),
    mca: ranks.length ? jobMca(ranks[0]!.pid) : [],
  };
}

function jobMca(rankPid: number): Array<[string, string]> {
  const entry = procText(`/proc/${rankPid}/environ`).split('\0').find((e) => e.startsWith(`${ENV_MCA_CLI}=`));
  try {
    return entry ? (JSON.parse(entry.slice(ENV_MCA_CLI.length + 1)) as Array<[string, string]>) : [];
  } catch {
    return [];
  }
}

function buildManifest(
  job: JobRecord,
  ranks: readonly RankStatus[],
  tree: TreeFacts,
  criu: { path: string; version: string },
  leaveRunning: boolean,
  images: string,
  times: CheckpointManifest['times'],
): CheckpointManifest {
  const byPid = imageBytesByPid(images);
  const components = new Set(ranks.flatMap((r) => r.components.map((c) => c.name)));
  return {
    format: 1,
    jobId: job.jobId,
    np: job.np,
    script: job.script,
    args: job.args,
    cwd: job.cwd,
    commandLine: tree.commandLine,
    mca: tree.mca,
    launcherPid: job.pid,
    ranks: ranks.map((r) => ({
      rank: r.rank,
      pid: r.pid,
      host: r.hostname,
      components: r.components.map((c) => ({ name: c.name, checkpointable: c.checkpointable })),
      send: r.peers.map((p) => ({ peer: p.rank, btls: p.send })),
      rssBytes: tree.rss.get(r.pid) ?? 0,
      imageBytes: byPid.get(r.pid) ?? 0,
    })),
    hosts: [...new Set(ranks.map((r) => r.hostname))],
    unloadedByPrepare: [...components].filter((name) => ranks.some((r) => r.components.some((c) => c.name === name && !c.checkpointable))),
    criu,
    ids: tree.ids,
    shellJob: tree.shellJob,
    stdio: tree.stdio,
    outputFiles: tree.outputFiles,
    leaveRunning,
    sizes: { imagesBytes: folderBytes(images), launcherRssBytes: tree.rss.get(job.pid) ?? 0, launcherImageBytes: byPid.get(job.pid) ?? 0 },
    times,
  };
}

/**
 * The launcher again after a dump that left it running: its socket answers once CRIU has let the
 * processes go on, a moment after the dump returned.
 */
async function reconnect(connect: Connect, job: JobRecord): Promise<ToolClient> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect(job);
    } catch (err) {
      if (attempt >= 10) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Creates DIR, or checks an existing one is an empty folder; says whether it was created. Checked
 * before the job is touched, so a path that cannot hold a checkpoint changes nothing.
 */
function claimDir(dir: string): boolean {
  const refuse = (why: string) => new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', why);
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw refuse(`${dir} is not a folder`);
    entries = readdirSync(dir);
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    // A symbolic link to nothing: made here, the folder would land where the link points (or fail
    // there), and removing it on failure would remove the operator's link.
    if (code === 'ENOENT' && lstatSync(dir, { throwIfNoEntry: false })?.isSymbolicLink()) {
      throw refuse(`${dir} is a symbolic link to ${readlinkSync(dir)}, which does not exist`);
    }
    if (code !== 'ENOENT') throw refuse(`cannot use ${dir}: ${(err as Error).message}`);
    createDir(dir);
    return true;
  }
  if (entries.length) {
    const some = `${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}`;
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', `${dir} is not empty (${some}): a checkpoint needs a folder of its own`);
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', `cannot write in ${dir}: ${(err as Error).message}`);
  }
  return false;
}

function createDir(dir: string): void {
  try {
    // One level at a time: the first that cannot be made says why (read-only, /proc).
    makeFolders(dir, 0o700);
  } catch (err) {
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', `cannot create ${dir}: ${(err as Error).message}`);
  }
}

async function verb(
  client: ToolClient,
  phase: 'prepare' | 'continue',
  timeoutMs: number | undefined,
  saving?: { saveTo: string; leaveRunning: boolean },
): Promise<VerbResult> {
  // This process's pid: from its prepare to its continue the job's verbs are this save's alone.
  const params = { verb: 'checkpoint', phase, save: process.pid, ...saving, ...(timeoutMs === undefined ? {} : { timeoutMs }) };
  return (await call(client, TOOL_CTL, params, timeoutMs === undefined ? undefined : 3 * timeoutMs + 5000)) as VerbResult;
}

async function undoPrepare(client: ToolClient | undefined, connect: Connect, job: JobRecord, timeoutMs: number | undefined): Promise<void> {
  const c = client ?? (await connect(job).catch(() => undefined));
  if (!c) return;
  try {
    await verb(c, 'continue', timeoutMs);
  } catch {
    // The error being reported says what failed; `ctl status` shows where the job stands.
  } finally {
    if (c !== client) c.close();
  }
}

async function waitGone(pids: readonly number[]): Promise<void> {
  const deadline = Date.now() + GONE_TIMEOUT_MS;
  // CRIU killed them; the launcher's parent or init collects them: a zombie counts as gone.
  while (pids.some(isProcessRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const left = pids.filter(isProcessRunning);
  if (left.length) throw new CheckpointError('ERR_SWITCHYARD_CRIU_DUMP', `criu dump returned but processes ${left.join(', ')} still run`);
}

function procText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function report(io: CommandIO, o: SaveOptions, m: CheckpointManifest, dir: string): void {
  if (o.json) {
    io.stdout.write(`${JSON.stringify({ ok: true, outcome: 'done', dir, manifest: m }, null, 2)}\n`);
    return;
  }
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  let out = `checkpoint save: job ${m.jobId} saved in ${dir}\n`;
  out += `  prepare ${formatMs(m.times.prepareMs)}${m.unloadedByPrepare.length ? ` (unloaded ${m.unloadedByPrepare.join(', ')})` : ''}\n`;
  const what = `launcher and ${m.np} ranks, ${m.ids.pids.length} processes`;
  out += `  dump ${formatMs(m.times.dumpMs)}: ${what}, ${mb(m.sizes.imagesBytes)} of images (CRIU ${m.criu.version})\n`;
  const perRank = m.ranks.map((r) => `rank ${r.rank} ${mb(r.imageBytes)}`).join(', ');
  out += `  per process: launcher ${mb(m.sizes.launcherImageBytes)}, ${perRank}\n`;
  out += m.times.continueMs === undefined
    ? `  the job's processes are gone; 'switchyard restore ${dir}' brings it back\n`
    : `  continue ${formatMs(m.times.continueMs)}: the job runs on\n`;
  io.stdout.write(out);
}
