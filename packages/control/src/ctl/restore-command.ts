/**
 * `switchyard restore DIR`: brings back a job saved by `switchyard ctl checkpoint save DIR` (CRIU
 * restore of its launcher and ranks, same pids and addresses), then resumes it with `checkpoint
 * continue`, or `checkpoint restart` (--restart: the checkpointable transports re-wire too).
 */
import { closeSync, openSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isatty } from 'node:tty';
import { type Command, type CommandIO, HELP_OPTION, JSON_OPTION, type OptionSpec, parseArgs, UsageError } from '@switchyard/cli-kit';
import {
  connectTool,
  ensurePrivateDir,
  isProcessRunning,
  makeFolders,
  readJobRecord,
  JOB_RECORD_FILE,
  processStart,
  SOCKET_FILE,
  userJobsRoot,
  writeJobRecord,
  type JobRecord,
} from '@switchyard/runtime';
import { McaConfigError } from '@switchyard/mca';
import { TOOL_CTL, type VerbResult } from '../protocol.js';
import { requireCriu } from '../criu/binary.js';
import { CheckpointError } from '../criu/errors.js';
import { IMAGES_DIR, JOB_RECORD_COPY, readManifest, type CheckpointManifest } from '../criu/manifest.js';
import { inheritKey, restoreTree, waitIdsFree, whyIdsTaken } from '../criu/process-tree.js';
import { criuSettings } from '../criu/params.js';
import { refuseForeignJobDir, refuseUntrustedCheckpoint } from '../criu/trusted-checkpoint.js';
import { waitForJobEnd, type JobEnd } from './job-end.js';
import { formatMs, renderChanges } from './render.js';
import { holdStopSignals } from './stop-signals.js';
import { call, CtlError } from './tool-call.js';

const USAGE = `Usage: switchyard restore DIR [--restart] [--wait] [--output-filename FILE] [--criu PATH] [--json]

Restores a job saved by 'switchyard ctl checkpoint save DIR': CRIU brings back its launcher and
every rank with the same process ids and addresses, then 'checkpoint continue' loads the
transports that were unloaded for the checkpoint and the job goes on ('switchyard ctl jobs' lists
it). The command returns once the job runs (with --wait: once it ends); the job's output goes where
this command's output goes (or to FILE), and where it was going when that was a file. Needs root
and CRIU 4.2 or newer.
CRIU gets crs_criu_restore_timeout seconds (default: 60 plus 1 per 20 MB of images); past them, or
on Ctrl-C, it is stopped together with the processes it restored so far.

  --restart                 'checkpoint restart' instead of continue: the addresses changed, so
                            the checkpointable transports (tcp) re-wire too
  --wait                    wait for the resumed job to end and exit with its exit status, as
                            'switchyard run' does; Ctrl-C meanwhile stops the job
  --output-filename FILE    the job's output (the launcher's stdout and stderr) goes to FILE,
                            appended, instead of this command's stdout and stderr
  --criu PATH               the CRIU binary (default: crs_criu_path, then criu on PATH or in sbin)
  --json                    machine-readable output
  -h, --help                show this help

Exit codes: 0 restored and resumed; 1 refused (nothing restored: the reason is printed) or the
resume failed (the job runs, prepared for a checkpoint: see 'switchyard ctl status'); 2 usage error.
With --wait, once resumed: the job's exit status (1 when its launcher ended without reporting it).
`;

const OPTIONS: readonly OptionSpec[] = [
  HELP_OPTION,
  JSON_OPTION,
  { name: 'restart', arity: 0 },
  { name: 'wait', arity: 0 },
  { name: 'output-filename', arity: 1 },
  { name: 'criu', arity: 1 },
];

/** Held in DIR while a restore of it runs. */
const RESTORE_LOCK = 'restore.lock';

/** How long the saved ids get to be freed (a dumped job's zombies are collected about a second later). */
const IDS_FREE_TIMEOUT_MS = 5000;

export const restore: Command = async (argv, io) => {
  const args = parseArgs(argv, OPTIONS);
  if (args.options.get('help')) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (args.positionals.length !== 1) {
    if (!args.positionals.length) throw new UsageError('missing DIR: the folder of checkpoint save');
    throw new UsageError(`restore takes one DIR, got '${args.positionals.join(' ')}'`);
  }
  const dir = resolve(io.cwd, args.positionals[0]!);
  const json = args.options.get('json') === true;
  const phase = args.options.get('restart') === true ? 'restart' : 'continue';
  const wait = args.options.get('wait') === true;
  const outputFile = args.options.get('output-filename') as string | undefined;
  let unlock = () => {};
  // Ctrl-C, SIGTERM and SIGHUP are held for the whole restore: while CRIU runs, they stop it and what it
  // restored so far (nothing of the job runs then); once it has restored the job, the job's record
  // and its resume come first, or it would run on unseen by ctl, or stay on tcp alone.
  let criuDone = false;
  let stopAsked: NodeJS.Signals | undefined;
  const hold = holdStopSignals((signal) => {
    stopAsked = signal;
    if (criuDone) io.stderr.write(`switchyard restore: ${signal}: the job runs again; its record and checkpoint ${phase} come first\n`);
  });
  let held = true;
  const release = () => {
    if (held) hold();
    held = false;
  };
  try {
    const settings = await criuSettings(io);
    refuseUntrustedCheckpoint(dir, settings.trust);
    const manifest = readManifest(dir);
    const criu = requireCriu((args.options.get('criu') as string | undefined) ?? settings.path, io.env);
    const record = savedRecord(dir);
    refuseForeignJobDir(record);
    unlock = lockForRestore(dir);
    await refuseWhileInUse(manifest, record);
    const output = outputFile === undefined ? undefined : resolve(io.cwd, outputFile);
    const restored = await restoreJob(dir, manifest, record, { criu: criu.path, timeoutMs: settings.restoreTimeoutMs }, output);
    criuDone = true;
    if (stopAsked) {
      io.stderr.write(`switchyard restore: ${stopAsked} came as CRIU finished: the job runs again; checkpoint ${phase} comes first\n`);
    }
    unlock();
    const resumed = await resume(record, phase);
    const restoredJob: Restored = { dir, manifest, restoreMs: restored.ms, phase, resumed };
    // A stop asked for during the restore ends the command once the job runs, --wait or not.
    if (!wait || !resumed.ok || stopAsked) {
      report(io, json, restoredJob);
      return resumed.ok ? 0 : 1;
    }
    // The restore's own stop signals are done with: from here on they are the job's, as with run.
    release();
    if (!json) report(io, json, restoredJob);
    const ended = await waitForJobEnd(record, (signal) => io.stderr.write(`switchyard restore: ${signal}: passed to the job's launcher\n`));
    if (json) report(io, json, restoredJob, ended);
    else reportEnd(io, manifest.jobId, ended);
    return ended.report?.exitCode ?? 1;
  } catch (err) {
    // A bad crs_* parameter is refused like the rest: nothing was restored.
    if (!(err instanceof CheckpointError) && !(err instanceof CtlError) && !(err instanceof McaConfigError)) throw err;
    if (json) io.stdout.write(`${JSON.stringify({ ok: false, outcome: 'refused', code: err.code, message: err.message }, null, 2)}\n`);
    io.stderr.write(`switchyard restore: ${err.message}\n`);
    return 1;
  } finally {
    unlock();
    release();
  }
};

/**
 * Claims DIR for this restore (a file naming our pid, taken over from a restore that is gone):
 * two restores of one checkpoint at once would have CRIU's second fail halfway, over the first's
 * log. Returns the release. A folder we cannot write in (read-only media) is restored unclaimed.
 */
function lockForRestore(dir: string): () => void {
  const lock = join(dir, RESTORE_LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      let held = true;
      return () => {
        if (held) rmSync(lock, { force: true });
        held = false;
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return () => {};
      const holder = Number.parseInt(readFileSync(lock, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && isProcessRunning(holder)) {
        const why = `${dir} is being restored by another 'switchyard restore' (pid ${holder})`;
        throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', why);
      }
      rmSync(lock, { force: true });
    }
  }
  return () => {};
}

function savedRecord(dir: string): JobRecord {
  try {
    return JSON.parse(readFileSync(join(dir, JOB_RECORD_COPY), 'utf8')) as JobRecord;
  } catch (err) {
    const why = `${join(dir, JOB_RECORD_COPY)} (the job's record) cannot be read: ${(err as Error).message}`;
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_DIR', why);
  }
}

/** The same job still running, or another process on one of its ids, means no restore. */
async function refuseWhileInUse(m: CheckpointManifest, record: JobRecord): Promise<void> {
  const running = readJobRecord(record.jobDir);
  if (running?.jobId === record.jobId && isProcessRunning(record.pid)) {
    const why =
      `job ${record.jobId} is running (launcher pid ${record.pid}): restored already, or saved with --leave-running; ` +
      'it must end before its checkpoint is restored';
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_JOB', why);
  }
  const busy = await waitIdsFree(m.ids.tids, IDS_FREE_TIMEOUT_MS);
  if (busy.length) {
    const list = busy.slice(0, 5).map((b) => `${b.id} (${b.command})`).join(', ');
    const taken = `${list}${busy.length > 5 ? ', ...' : ''} ${busy.length === 1 ? 'is' : 'are'} in use by other processes now`;
    throw new CheckpointError('ERR_SWITCHYARD_CHECKPOINT_PIDS', `CRIU restores the saved process ids, and ${taken}${whyIdsTaken(busy)}`);
  }
}

/** The job's folder again (CRIU binds its socket there), its stdio re-attached, then CRIU's restore. */
async function restoreJob(
  dir: string,
  m: CheckpointManifest,
  record: JobRecord,
  { criu, timeoutMs }: { criu: string; timeoutMs: number | undefined },
  outputFile: string | undefined,
): Promise<{ ms: number }> {
  ensurePrivateDir(userJobsRoot());
  // The folder first, its record once the launcher runs: a record naming a pid that does not run
  // yet would have the folder cleaned away by any tool listing jobs meanwhile.
  makeFolders(record.jobDir, 0o700);
  rmSync(join(record.jobDir, SOCKET_FILE), { force: true });
  rmSync(join(record.jobDir, JOB_RECORD_FILE), { force: true });
  const now = new Date();
  utimesSync(record.jobDir, now, now);
  const opened: number[] = [];
  const open = (path: string, flags: string) => {
    const fd = openSync(path, flags, 0o600);
    opened.push(fd);
    return fd;
  };
  try {
    const out = outputFile === undefined ? 1 : open(outputFile, 'a');
    const err = outputFile === undefined ? 2 : out;
    const keys = new Map<string, number>();
    for (const s of m.stdio) {
      const file = s.target.startsWith('/');
      if (keys.has(inheritKey(s)) || (file && s.fd === 0)) continue;
      // A file the output went to stays its destination unless another is asked for. It is opened
      // here, to append: left to CRIU, it is refused once it grew since the dump (a job saved with
      // --leave-running wrote on; npx's wrapper wrote 'Killed' when the save stopped the launcher).
      const keep = file && outputFile === undefined ? open(s.target, 'a') : undefined;
      keys.set(inheritKey(s), s.fd === 0 ? open('/dev/null', 'r') : (keep ?? (s.fd === 1 ? out : err)));
    }
    // The launcher's own output files: it appends to them, and so it does after the restore.
    for (const path of m.outputFiles ?? []) {
      const key = inheritKey({ target: path });
      if (keys.has(key)) continue;
      try {
        makeFolders(dirname(path));
        keys.set(key, open(path, 'a'));
      } catch (err) {
        const why = `the job's output file ${path} cannot be opened again: ${(err as Error).message}`;
        throw new CheckpointError('ERR_SWITCHYARD_CRIU_RESTORE', why);
      }
    }
    const inherit = [...keys].map(([key, fd]) => ({ key, fd }));
    // A launcher saved with a terminal needs the restorer's; otherwise the job gets a session of its own.
    const newSession = !isatty(0);
    const where = { imagesDir: join(dir, IMAGES_DIR), shellJob: m.shellJob, inherit, newSession };
    const restored = await restoreTree({ criu, ...where, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    // Same pid, but a process the kernel started now: the record says so, or tools take the pid for reused.
    const pidStart = processStart(record.pid);
    writeJobRecord({ ...record, ...(pidStart === undefined ? {} : { pidStart }) });
    return restored;
  } catch (err) {
    rmSync(record.jobDir, { recursive: true, force: true });
    throw err;
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

async function resume(record: JobRecord, phase: 'continue' | 'restart'): Promise<VerbResult> {
  let client;
  try {
    client = await connectTool(record, { connectTimeoutMs: 10_000 });
  } catch (err) {
    throw new CtlError(`restored, but the job's launcher does not answer: ${(err as Error).message}`);
  }
  try {
    return (await call(client, TOOL_CTL, { verb: 'checkpoint', phase }, 120_000)) as VerbResult;
  } finally {
    client.close();
  }
}

interface Restored {
  readonly dir: string;
  readonly manifest: CheckpointManifest;
  readonly restoreMs: number;
  readonly phase: 'continue' | 'restart';
  readonly resumed: VerbResult;
}

function report(io: CommandIO, json: boolean, r: Restored, ended?: JobEnd): void {
  const m = r.manifest;
  if (json) {
    const { resumed, ...rest } = r;
    const end = ended && (ended.report ? { ...ended.report } : { exitCode: null, why: ended.why });
    const answer = { ok: resumed.ok, jobId: m.jobId, pid: m.launcherPid, ...rest, manifest: undefined, resume: resumed, ended: end };
    io.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    return;
  }
  let out = `restore: job ${m.jobId} restored from ${r.dir} in ${formatMs(r.restoreMs)} (launcher pid ${m.launcherPid}, ${m.np} ranks)\n`;
  if (r.resumed.ok) out += `checkpoint ${r.phase}: done in ${formatMs(r.resumed.ms)}\n${renderChanges(r.resumed.changes)}`;
  io.stdout.write(out);
  if (!r.resumed.ok) {
    const reasons = r.resumed.errors.map((e) => e.message).join('; ');
    io.stderr.write(`switchyard restore: checkpoint ${r.phase} ${r.resumed.outcome}: ${reasons}\n`);
  }
}

/** How the job ended, after --wait: a line, and its reason when it failed. */
function reportEnd(io: CommandIO, jobId: string, ended: JobEnd): void {
  if (!ended.report) {
    io.stderr.write(`switchyard restore: ${ended.why}\n`);
    return;
  }
  const { exitCode, abortReason } = ended.report;
  if (exitCode === 0) io.stdout.write(`restore: job ${jobId} ended: exit status 0\n`);
  else io.stderr.write(`switchyard restore: job ${jobId} ended with exit status ${exitCode}${abortReason ? `: ${abortReason}` : ''}\n`);
}
