/**
 * `switchyard ctl migrate --ranks R --to HOST`: moves one rank of a running job to another host
 * (on one machine: another network namespace, scripts/vcluster.sh) while the others go on.
 *
 *   1. migrate away: R's links are drained and closed; the other ranks hold what they send to it;
 *   2. R leaves the launcher (closes its connections; its output switches to named pipes);
 *   3. CRIU saves R alone and ends it; 4. CRIU restores it in HOST's namespaces (same pid);
 *   5. the launcher follows the restored pid, R says hello again from HOST;
 *   6. migrate back: R publishes its new addresses, its transports load anew, the others connect.
 *
 * A failure before the save is undone (R back where it was); one after it restores R where it was.
 */
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandIO } from '@switchyard/cli-kit';
import {
  isProcessRunning,
  TOOL_RANK_LEAVE,
  TOOL_RANK_RETURN,
  type JobRecord,
  type LeaveAnswer,
  type ToolClient,
} from '@switchyard/runtime';
import type { CtlStatus } from '../coordinator.js';
import { isRankStatusFailure } from '../coordinator.js';
import { requireCriu } from '../criu/binary.js';
import { CheckpointError } from '../criu/errors.js';
import { hostOf, resolveHost, type Host } from '../criu/hosts.js';
import { netnsOf, utsOf } from '../criu/netns.js';
import { dumpTree, inheritKey, isSessionLeader, outsideFds, restoreTree, treeIds, waitIdsFree, whyIdsTaken } from '../criu/process-tree.js';
import { TOOL_CTL, TOOL_CTL_STATUS, type RankStatus, type VerbResult } from '../protocol.js';
import { formatMs, renderChanges } from './render.js';
import { holdStopSignals } from './stop-signals.js';
import { call, type Connect } from './tool-call.js';

export const MIGRATE_USAGE = `Usage: switchyard ctl [--job ID] migrate --ranks R --to HOST [--criu PATH] [--timeout MS] [--json]

Moves rank R of a running job (started by 'switchyard run') to another host while the other
ranks go on: R's links drain and close and the others hold their messages to it (migrate away),
CRIU saves R alone and restores it on HOST with the same pid, the launcher follows it (its output
too, through named pipes in the job's folder), R rejoins, publishes its new addresses and loads
its transports anew, and the others connect to it (migrate back). Each step prints a line.
Needs root and CRIU 4.2 or newer.

HOST is a host of this machine as a network namespace (/run/netns/NAME, e.g. those of
scripts/vcluster.sh): its name (sy-h2), or the host name a process in it runs under (node2). The
rank comes back in that namespace, and in that host's UTS namespace when it has one of its own.

  --ranks R         the rank to move (one)
  --to HOST         where it goes
  --criu PATH       the CRIU binary (default: crs_criu_path, then criu on PATH or in sbin)
  --timeout MS      how long each rank gets for each phase of migrate away and back
  --json            machine-readable output (the steps and their times)
  -h, --help        show this help

Exit codes: 0 moved; 1 refused (an unknown host, the host it is on, a job of mpirun or srun, no
usable CRIU: nothing changed) or failed (the message says where the rank runs: a failed restore
brings it back where it was); 2 usage error (a rank the job does not have too).
`;

export interface MigrateOptions {
  readonly rank: number;
  readonly to: string;
  /** --criu PATH (or crs_criu_path). */
  readonly criu: string | undefined;
  readonly json: boolean;
  readonly timeoutMs: number | undefined;
}

/** How long the saved process's ids get to be freed (its parent, the launcher, collects it). */
const IDS_FREE_TIMEOUT_MS = 10_000;

interface Step {
  readonly step: string;
  readonly ms: number;
}

export async function migrateRank(job: JobRecord, connect: Connect, o: MigrateOptions, io: CommandIO): Promise<number> {
  const progress = (line: string) => void io.stderr.write(`migrate: ${line}\n`);
  if (job.launcher === 'pmix') {
    const why =
      `job ${job.jobId} was started by mpirun or srun: ` +
      "migrate moves a rank of a job started by 'switchyard run' (its launcher follows the rank)";
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', why);
  }
  const criu = requireCriu(o.criu, io.env);
  if (o.rank >= job.np) {
    throw new CheckpointError('ERR_SWITCHYARD_MIGRATE_RANK', `rank ${o.rank} does not exist: job ${job.jobId} has ranks 0-${job.np - 1}`);
  }
  const target = resolveHost(o.to);
  const client = await connect(job);
  const steps: Step[] = [];
  const timed = async <T>(step: string, run: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const value = await run();
    steps.push({ step, ms: performance.now() - t0 });
    return value;
  };
  // Ctrl-C, SIGTERM and SIGHUP are held for the whole move: before the rank leaves they stop it once
  // `migrate away` has answered, and its links come back; once it leaves the move finishes.
  let interrupted: NodeJS.Signals | undefined;
  let moving = false;
  const release = holdStopSignals((signal) => {
    interrupted = signal;
    if (moving) progress(`${signal}: CRIU holds rank ${o.rank}, and stopping now would lose it; the move finishes first`);
    else progress(`${signal}: stopping before rank ${o.rank} leaves; its links come back`);
  });
  try {
    const before = await rankStatus(client, o.rank);
    const origin = hostOf(before.pid);
    if (!origin) {
      // Its peers run beside it in the machine's own namespace, which a host of ip netns does not reach.
      const why =
        `rank ${o.rank} runs in this machine's own network namespace, not on a host of /run/netns: ` +
        `moved to ${o.to}, it could not reach the ranks it leaves there (start the job inside a host's namespace)`;
      throw new CheckpointError('ERR_SWITCHYARD_MIGRATE_HOST', why);
    }
    if (origin.netnsName === target.netnsName) {
      const why = `rank ${o.rank} already runs on ${o.to} (network namespace ${target.netnsName})`;
      throw new CheckpointError('ERR_SWITCHYARD_MIGRATE_HOST', why);
    }
    progress(`job ${job.jobId}: rank ${o.rank} (pid ${before.pid}) on ${before.hostname} to ${describeHost(target)}`);
    progress(`migrate away: rank ${o.rank}'s links drain and close; the other ranks hold their messages to it`);
    if (interrupted) throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', `stopped by ${interrupted}; nothing changed`);
    const away = await timed('away', () => verb(client, 'away', o));
    if (!away.ok) {
      const reasons = away.errors.map((e) => e.message).join('; ');
      throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', `migrate away ${away.outcome}: ${reasons}`);
    }
    if (interrupted) {
      await verb(client, 'back', o);
      const why = `stopped by ${interrupted} before rank ${o.rank} left; its links are back`;
      throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', why);
    }
    moving = true;
    const moved = await move(client, o, criu.path, target, origin, timed, progress).catch(async (err: unknown) => {
      // Not saved (it never left, or it rejoined where it was): its links come back.
      if (isProcessRunning(before.pid)) await verb(client, 'back', o).catch(() => {});
      throw err;
    });
    progress(`migrate back: rank ${o.rank} publishes its new addresses; its transports load anew`);
    const back = await timed('back', () => verb(client, 'back', o));
    if (!back.ok) {
      const reasons = back.errors.map((e) => e.message).join('; ');
      const why = `rank ${o.rank} runs on ${o.to}, but migrate back ${back.outcome}: ${reasons}`;
      throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', why);
    }
    const after = await rankStatus(client, o.rank);
    report(io, o, { rank: o.rank, pid: moved.pid, from: before.hostname, to: after.hostname, steps, changes: back });
    return 0;
  } finally {
    release();
    client.close();
  }
}

/** Steps 2 to 5: the rank leaves, is saved, restored on `target` (or where it was) and rejoins. */
async function move(
  client: ToolClient,
  o: MigrateOptions,
  criu: string,
  target: Host,
  origin: Host | undefined,
  timed: <T>(step: string, run: () => Promise<T>) => Promise<T>,
  progress: (line: string) => void,
): Promise<{ pid: number }> {
  // A refusal here comes after the launcher took the rank back: nothing to undo but the links.
  const leave = (await timed('leave', () => call(client, TOOL_RANK_LEAVE, { rank: o.rank }, 30_000))) as LeaveAnswer;
  const pid = leave.pid;
  const ids = treeIds(pid);
  const outside = outsideFds(pid, new Set());
  const shellJob = !isSessionLeader(pid);
  const images = mkdtempSync(join(tmpdir(), `sy-migrate-${o.rank}-`));
  let dumped = false;
  try {
    progress(`saving rank ${o.rank} (pid ${pid}, ${ids.tids.length} threads) with CRIU`);
    await timed('dump', () =>
      dumpTree({ criu, pid, imagesDir: images, leaveRunning: false, shellJob, outside, netns: netnsOf(pid), uts: utsOf(pid) }),
    );
    dumped = true;
    const busy = await waitIdsFree(ids.tids, IDS_FREE_TIMEOUT_MS);
    if (busy.length) {
      const taken = busy.map((b) => b.id).join(', ');
      throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_PIDS', `ids ${taken} are still in use${whyIdsTaken(busy)}`);
    }
    progress(`restoring rank ${o.rank} on ${describeHost(target)}`);
    try {
      await timed('restore', () => restoreOn(target, criu, images, shellJob, outside, leave));
    } catch (err) {
      // It cannot go there: it comes back where it was, and the move is reported as failed.
      if (!origin) throw err;
      progress(`restore on ${target.netnsName} failed (${(err as Error).message}); restoring rank ${o.rank} where it was`);
      await restoreOn(origin, criu, images, shellJob, outside, leave);
      await call(client, TOOL_RANK_RETURN, { rank: o.rank, pid }, 60_000);
      rmSync(images, { recursive: true, force: true });
      throw new CheckpointError('ERR_SWITCHYARD_CRIU_RESTORE', `${(err as Error).message}; rank ${o.rank} runs where it was`);
    }
    await timed('rejoin', () => call(client, TOOL_RANK_RETURN, { rank: o.rank, pid }, 60_000));
    rmSync(images, { recursive: true, force: true });
    return { pid };
  } catch (err) {
    if (!dumped && isProcessRunning(pid)) {
      // Never saved: it still runs where it was, and rejoins (its links come back after this).
      rmSync(images, { recursive: true, force: true });
      await call(client, TOOL_RANK_RETURN, { rank: o.rank, pid }, 60_000).catch(() => {});
    } else if (!isProcessRunning(pid)) {
      // Gone, and not restored: the launcher counts it as ended (the job aborts, as for any lost rank).
      await call(client, TOOL_RANK_RETURN, { rank: o.rank }, 10_000).catch(() => {});
      if (!dumped) rmSync(images, { recursive: true, force: true });
      const kept = dumped ? `; rank ${o.rank}'s images are kept in ${images}` : '';
      throw new CheckpointError(dumped ? 'ERR_SWITCHYARD_CRIU_RESTORE' : 'ERR_SWITCHYARD_CRIU_DUMP', `${(err as Error).message}${kept}`);
    }
    throw err;
  }
}

/** CRIU restore in `host`'s namespaces, the rank's stdout and stderr attached to the launcher's named pipes. */
async function restoreOn(
  host: Host,
  criu: string,
  images: string,
  shellJob: boolean,
  outside: ReturnType<typeof outsideFds>,
  leave: LeaveAnswer,
): Promise<void> {
  // The launcher reads them (opened read-write there): opening to write does not block.
  const out = openSync(leave.fifos.stdout, constants.O_WRONLY);
  const err = openSync(leave.fifos.stderr, constants.O_WRONLY);
  try {
    // The launcher's sockets (a first move); after one the pipes themselves, which CRIU reopens by name.
    const sockets = outside.filter((f) => f.fd !== 0 && !f.target.startsWith('/'));
    const inherit = sockets.map((f) => ({ key: inheritKey(f), fd: f.fd === 1 ? out : err }));
    // A rank reads no terminal (one reading stdin is refused): it never needs the caller's session.
    const where = { netns: host.netns, ...(host.uts ? { uts: host.uts } : {}) };
    await restoreTree({ criu, imagesDir: images, shellJob, inherit, newSession: true, ...where });
  } finally {
    closeSync(out);
    closeSync(err);
  }
}

async function rankStatus(client: ToolClient, rank: number): Promise<RankStatus> {
  const status = (await call(client, TOOL_CTL_STATUS, {}, 15_000)) as CtlStatus;
  const r = status.ranks.find((x) => x.rank === rank);
  if (!r || isRankStatusFailure(r)) {
    const why = r && isRankStatusFailure(r) ? r.error : 'no status';
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', `rank ${rank} did not answer: ${why}`);
  }
  return r;
}

async function verb(client: ToolClient, phase: 'away' | 'back', o: MigrateOptions): Promise<VerbResult> {
  const params = { verb: 'migrate', phase, ranks: [o.rank], ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }) };
  return (await call(client, TOOL_CTL, params, o.timeoutMs === undefined ? undefined : 3 * o.timeoutMs + 5000)) as VerbResult;
}

function describeHost(h: Host): string {
  return h.name ? `${h.name} (network namespace ${h.netnsName})` : `network namespace ${h.netnsName}`;
}

interface Moved {
  readonly rank: number;
  readonly pid: number;
  readonly from: string;
  readonly to: string;
  readonly steps: readonly Step[];
  readonly changes: VerbResult;
}

function report(io: CommandIO, o: MigrateOptions, m: Moved): void {
  if (o.json) {
    io.stdout.write(`${JSON.stringify({ ok: true, outcome: 'done', ...m, changes: m.changes.changes }, null, 2)}\n`);
    return;
  }
  let out = `migrate: rank ${m.rank} (pid ${m.pid}) moved from ${m.from} to ${m.to}\n`;
  out += `  ${m.steps.map((s) => `${s.step} ${formatMs(s.ms)}`).join(', ')}\n`;
  out += renderChanges(m.changes.changes);
  io.stdout.write(out);
}
