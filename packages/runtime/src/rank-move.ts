/**
 * The launcher's part in moving one rank to another host (`switchyard ctl migrate`): the rank is
 * "away" while CRIU saves it and restores it elsewhere. The tool that moves it calls
 * `rank.leave` (the rank closes its connections; its output switches to named pipes in the job
 * folder, which the restore attaches to the moved process), then `rank.return` with the pid the
 * rank runs as now (the launcher follows it, and the rank says hello again from its new host).
 */
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobController } from './job-controller.js';
import type { MoveFifos, RankProcess } from './rank-process.js';

export const TOOL_RANK_LEAVE = 'rank.leave';
export const TOOL_RANK_RETURN = 'rank.return';

/** How long a rank gets to close its connections, and to say hello again once told to return. */
const LEAVE_TIMEOUT_MS = 10_000;
const RETURN_TIMEOUT_MS = 30_000;

/** Why a move step was refused, as a code (never match the message). */
export class RankMoveError extends Error {
  override readonly name = 'RankMoveError';
  readonly code = 'ERR_SWITCHYARD_MIGRATE_RANK';
}

/** What `rank.leave` answers: the process to save and the pipes its output must go to afterwards. */
export interface LeaveAnswer {
  readonly rank: number;
  readonly pid: number;
  readonly fifos: MoveFifos;
}

interface MoveContext {
  readonly controller: JobController;
  readonly ranks: readonly RankProcess[];
  readonly jobDir: string;
  /** The rank that reads the launcher's stdin (rank 0 with --stdin): its pipe cannot follow it. */
  readonly stdinRank?: number;
}

/** Serves `rank.leave` and `rank.return` on the launcher's tool channel. */
export function serveRankMoves(c: MoveContext): void {
  c.controller.onToolCall(TOOL_RANK_LEAVE, async (params, caller) => {
    const answer = await leave(c, rankOf(params, c.ranks.length));
    // Only the tool that took the rank away brings it back: if it goes first, the rank is lost.
    caller.onClose(() => c.ranks[answer.rank]!.lose('the switchyard ctl migrate moving it ended before the rank was back'));
    return answer;
  });
  c.controller.onToolCall(TOOL_RANK_RETURN, (params) => {
    const pid = (params as { pid?: unknown } | null)?.pid;
    return back(c, rankOf(params, c.ranks.length), Number.isInteger(pid) ? (pid as number) : undefined);
  });
}

async function leave(c: MoveContext, rank: number): Promise<LeaveAnswer> {
  const proc = c.ranks[rank]!;
  if (rank === c.stdinRank) throw new RankMoveError(`rank ${rank} reads the launcher's stdin, which cannot follow it to another host`);
  if (!proc.alive || proc.pid === undefined) throw new RankMoveError(`rank ${rank} does not run`);
  if (proc.moving) throw new RankMoveError(`rank ${rank} is already being moved`);
  // A rank moved before writes to its named pipes already: they stay.
  const fifos = proc.fifos ?? { stdout: join(c.jobDir, `rank-${rank}.stdout`), stderr: join(c.jobDir, `rank-${rank}.stderr`) };
  for (const path of proc.fifos ? [] : [fifos.stdout, fifos.stderr]) {
    rmSync(path, { force: true });
    const made = spawnSync('mkfifo', ['-m', '600', path], { encoding: 'utf8' });
    if (made.status !== 0) throw new RankMoveError(`cannot make the named pipe ${path}: ${made.stderr || made.error?.message}`);
  }
  proc.leave(fifos);
  try {
    await c.controller.sendAway(rank, returnFile(c, rank), LEAVE_TIMEOUT_MS);
  } catch (err) {
    // It never left, or left half: tell it to come back at once; its child is the rank again.
    await back(c, rank, proc.pid).catch(() => {});
    throw new RankMoveError((err as Error).message);
  }
  return { rank, pid: proc.pid, fifos };
}

/**
 * The rank runs as `pid` again (restored elsewhere, or never saved): follow it and let it say
 * hello. Without a pid, the rank's process was saved but could not be restored: it is gone.
 */
async function back(c: MoveContext, rank: number, pid: number | undefined): Promise<{ rank: number; pid: number }> {
  const proc = c.ranks[rank]!;
  if (pid === undefined) {
    proc.abandon();
    throw new RankMoveError(`rank ${rank} was not restored: it is gone`);
  }
  proc.adopt(pid);
  writeFileSync(returnFile(c, rank), `${pid}\n`, { mode: 0o600 });
  await c.controller.awaitReturn(rank, RETURN_TIMEOUT_MS);
  return { rank, pid };
}

function returnFile(c: MoveContext, rank: number): string {
  return join(c.jobDir, `rank-${rank}.return`);
}

function rankOf(params: unknown, size: number): number {
  const rank = (params as { rank?: unknown } | null)?.rank;
  if (!Number.isInteger(rank) || (rank as number) < 0 || (rank as number) >= size) {
    throw new RankMoveError(`rank ${JSON.stringify(rank)} does not exist: the job has ranks 0-${size - 1}`);
  }
  return rank as number;
}
