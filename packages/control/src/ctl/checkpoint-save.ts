/**
 * `switchyard ctl checkpoint save DIR`: `checkpoint prepare`, then a CRIU dump of the job's launcher
 * and every rank into DIR with a manifest; the job is gone afterwards, or runs on (`--leave-running`,
 * then `checkpoint continue`). Every refusal happens before the job is touched, or is undone.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandIO } from '@switchyard/cli-kit';
import type { JobRecord, ToolClient } from '@switchyard/runtime';
import type { CtlStatus } from '../coordinator.js';
import { isRankStatusFailure } from '../coordinator.js';
import { TOOL_CTL, TOOL_CTL_STATUS, type RankStatus, type VerbResult } from '../protocol.js';
import { requireCriu } from '../criu/binary.js';
import { CheckpointError } from '../criu/errors.js';
import { folderBytes, imageBytesByPid, IMAGES_DIR, JOB_RECORD_COPY, rssBytes, writeManifest, type CheckpointManifest } from '../criu/manifest.js';
import { dumpTree, inodesHeldBy, isRunning, isSessionLeader, outsideFds, treeIds } from '../criu/process-tree.js';
import { formatMs } from './render.js';
import { call } from './tool-call.js';

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

export async function checkpointSave(job: JobRecord, connect: (job: JobRecord) => Promise<ToolClient>, o: SaveOptions, io: CommandIO): Promise<number> {
  const progress = (line: string) => void io.stderr.write(`checkpoint save: ${line}\n`);
  const dir = resolve(io.cwd, o.dir);
  // Refusals that need neither the job nor the folder come first: nothing to undo.
  const criu = requireCriu(o.criu, io.env);
  if (job.launcher === 'pmix') {
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', `job ${job.jobId} was started by mpirun or srun: save dumps a job started by 'switchyard run' (its launcher and ranks)`);
  }
  const created = claimDir(dir);
  const images = join(dir, IMAGES_DIR);
  let client: ToolClient | undefined = await connect(job);
  let prepared = false;
  try {
    const status = (await call(client, TOOL_CTL_STATUS, {}, 15_000)) as CtlStatus;
    const silent = status.ranks.filter(isRankStatusFailure);
    if (silent.length) throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', `rank ${silent.map((r) => r.rank).join(', ')} did not answer: ${silent[0]!.error}`);
    const ranks = status.ranks as RankStatus[];

    progress(`job ${job.jobId}: checkpoint prepare (only checkpointable transports stay loaded)`);
    const prepare = await verb(client, 'prepare', o.timeoutMs);
    if (!prepare.ok) {
      const reasons = prepare.errors.map((e) => e.message).join('; ');
      throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', `checkpoint prepare ${prepare.outcome}: ${reasons}`);
    }
    prepared = true;
    const loadedBefore = new Set(ranks.flatMap((r) => r.components.map((c) => c.name)));
    const unloaded = [...loadedBefore].filter((name) => ranks.some((r) => r.components.some((c) => c.name === name && !c.checkpointable)));

    const ids = treeIds(job.pid);
    const shellJob = !isSessionLeader(job.pid);
    const stdio = outsideFds(job.pid, inodesHeldBy(ids.pids.filter((p) => p !== job.pid)));
    const rss = new Map(ids.pids.map((p) => [p, rssBytes(p)]));
    const launcherCommand = commandLine(job.pid);
    // An open connection to the launcher's socket would be a socket CRIU cannot dump.
    client.close();
    client = undefined;
    mkdirSync(images, { mode: 0o700 });
    progress(`dumping the launcher and ${ranks.length} ranks (${ids.pids.length} processes, ${ids.tids.length} threads) with CRIU ${criu.version} into ${images}`);
    const savedAt = new Date().toISOString();
    const dump = await dumpTree({ criu: criu.path, pid: job.pid, imagesDir: images, leaveRunning: o.leaveRunning, shellJob, outside: stdio });
    prepared = o.leaveRunning;
    let continueMs: number | undefined;
    if (o.leaveRunning) {
      client = await reconnect(connect, job);
      const resumed = await verb(client, 'continue', o.timeoutMs);
      if (!resumed.ok) throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', `saved, but checkpoint continue failed: ${resumed.errors.map((e) => e.message).join('; ')}`);
      prepared = false;
      continueMs = resumed.ms;
    } else {
      await waitGone(ids.pids);
    }
    const imagesBytes = folderBytes(images);
    const byPid = imageBytesByPid(images);
    const manifest: CheckpointManifest = {
      format: 1,
      jobId: job.jobId,
      np: job.np,
      script: job.script,
      args: job.args,
      cwd: job.cwd,
      commandLine: launcherCommand,
      launcherPid: job.pid,
      ranks: ranks.map((r) => ({
        rank: r.rank,
        pid: r.pid,
        host: r.hostname,
        components: r.components.map((c) => ({ name: c.name, checkpointable: c.checkpointable })),
        send: r.peers.map((p) => ({ peer: p.rank, btls: p.send })),
        rssBytes: rss.get(r.pid) ?? 0,
        imageBytes: byPid.get(r.pid) ?? 0,
      })),
      hosts: [...new Set(ranks.map((r) => r.hostname))],
      unloadedByPrepare: unloaded,
      criu,
      ids,
      shellJob,
      stdio,
      leaveRunning: o.leaveRunning,
      sizes: { imagesBytes, launcherRssBytes: rss.get(job.pid) ?? 0, launcherImageBytes: byPid.get(job.pid) ?? 0 },
      times: { savedAt, prepareMs: prepare.ms, dumpMs: dump.ms, ...(continueMs === undefined ? {} : { continueMs }) },
    };
    writeManifest(dir, manifest);
    writeFileSync(join(dir, JOB_RECORD_COPY), `${JSON.stringify(job, null, 2)}\n`, { mode: 0o600 });
    report(io, o, manifest, dir);
    return 0;
  } catch (err) {
    // Nothing changed: the job runs on as before (its transports back), the folder as it was.
    if (prepared) await undoPrepare(client, connect, job, o.timeoutMs);
    if (created) rmSync(dir, { recursive: true, force: true });
    else rmSync(images, { recursive: true, force: true });
    throw err;
  } finally {
    client?.close();
  }
}

/**
 * The launcher again after a dump that left it running: its socket answers once CRIU has let the
 * processes go on, a moment after the dump returned.
 */
async function reconnect(connect: (job: JobRecord) => Promise<ToolClient>, job: JobRecord): Promise<ToolClient> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect(job);
    } catch (err) {
      if (attempt >= 10) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Creates DIR, or checks an existing one is an empty folder; says whether it was created. */
function claimDir(dir: string): boolean {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', `${dir} is not a folder`);
    entries = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return true;
  }
  if (entries.length) throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', `${dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}): a checkpoint needs a folder of its own`);
  return false;
}

async function verb(client: ToolClient, phase: 'prepare' | 'continue', timeoutMs: number | undefined): Promise<VerbResult> {
  const params = { verb: 'checkpoint', phase, ...(timeoutMs === undefined ? {} : { timeoutMs }) };
  return (await call(client, TOOL_CTL, params, timeoutMs === undefined ? undefined : 3 * timeoutMs + 5000)) as VerbResult;
}

async function undoPrepare(client: ToolClient | undefined, connect: (job: JobRecord) => Promise<ToolClient>, job: JobRecord, timeoutMs: number | undefined): Promise<void> {
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
  while (pids.some(isRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const left = pids.filter(isRunning);
  if (left.length) throw new CheckpointError('ERR_SWITCHYARD_CRIU_DUMP', `criu dump returned but processes ${left.join(', ')} still run`);
}

function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
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
  out += `  dump ${formatMs(m.times.dumpMs)}: launcher and ${m.np} ranks, ${m.ids.pids.length} processes, ${mb(m.sizes.imagesBytes)} of images (CRIU ${m.criu.version})\n`;
  out += `  per process: launcher ${mb(m.sizes.launcherImageBytes)}, ${m.ranks.map((r) => `rank ${r.rank} ${mb(r.imageBytes)}`).join(', ')}\n`;
  out += m.times.continueMs === undefined
    ? `  the job's processes are gone; 'switchyard restore ${dir}' brings it back\n`
    : `  continue ${formatMs(m.times.continueMs)}: the job runs on\n`;
  io.stdout.write(out);
}
