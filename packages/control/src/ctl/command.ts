import { readFileSync } from 'node:fs';
import { closest } from '@switchyard/mca';
import { constants } from 'node:os';
import {
  connectTool,
  findJobs,
  launcherStopped,
  parseTcpAddress,
  stoppedResumeNote,
  type JobRecord,
  type ToolClient,
} from '@switchyard/runtime';
import { MAX_VERB_TIMEOUT_MS, type CtlParams, type CtlStatus, type CtlStatusParams } from '../coordinator.js';
import { validateVerb, VerbError } from '../coordinator-verb.js';
import {
  describeVerb, TOOL_CTL, TOOL_CTL_PROGRESS, TOOL_CTL_STATUS, VERB_NAMES, type Verb, type VerbProgress, type VerbResult,
} from '../protocol.js';
import { parseRankList } from '../rank-list.js';
import {
  asksForJson,
  type Command,
  type CommandIO,
  HELP_OPTION,
  JSON_OPTION,
  MCA_OPTION,
  mcaPairs,
  type OptionSpec,
  parseArgs,
  UsageError,
} from '@switchyard/cli-kit';
import { describeProgress, publicJob, renderJobs, renderStatus, renderVerbResult } from './render.js';
import { watchStatus } from './watch.js';
import { checkpointSave, type SaveOptions } from './checkpoint-save.js';
import { MIGRATE_USAGE, migrateRank, type MigrateOptions } from './migrate-command.js';
import { verbUsage } from './verb-usage.js';
import { call, CtlError } from './tool-call.js';
import { CheckpointError } from '../criu/errors.js';
import { wantedCriu } from '../criu/params.js';

/** `status --watch` refreshes this often unless `--interval` says otherwise. */
const DEFAULT_WATCH_INTERVAL_S = 2;

const USAGE = `Usage: switchyard ctl [--job ID] VERB [ARGS] [--ranks LIST] [--json]
       switchyard ctl --controller HOST:PORT --secret-file FILE VERB ...

Talks to a running job: the only running job of this user, or the one --job names. Jobs started
by 'switchyard run' are found in its job folders, jobs started by mpirun or srun in the records
their controlling rank writes ($XDG_STATE_HOME/switchyard/jobs). A verb returns
when every rank has finished it and prints what changed. It exits 1 with a message when it was
refused (nothing changed) or failed; status exits 1 when a rank did not answer (listed with why).
A usage error (unknown verb or option, bad value) exits 2 and changes nothing.

Verbs:
  jobs                                 list this user's running jobs
  status                               per rank: components and modules, the BTLs that carry
                                       traffic to each peer, traffic counters and rates per BTL,
                                       the PML's queues per peer (posted receives, unexpected
                                       messages, rendezvous in flight), event-loop delay, heap
  switch BTL[,BTL...]                  carry traffic over these loaded BTLs only
  reset                                go back to the configured policy
  unload BTL                           drain a BTL and unload it
  load BTL                             load a BTL and wire it up
  apply --mca KEY VALUE...             reconcile the job to new MCA parameters
  checkpoint prepare|continue|restart  get ready for a checkpoint, resume on the same hosts, or
                                       resume after a move (re-wiring)
  checkpoint save DIR [--leave-running]
                                       prepare, then save the launcher and every rank with CRIU
                                       into DIR (new or empty): the job is gone afterwards, or runs
                                       on with --leave-running; 'switchyard restore DIR' brings it back
  migrate back --ranks R               bring back the links of rank R when its move stopped after
                                       its links closed (it still runs where it was)
  migrate --ranks R --to HOST          move rank R to another host while the job runs: its links
                                       close (the others hold its messages), CRIU saves it and
                                       restores it on HOST, it rejoins and its transports re-wire.
                                       HOST: a network namespace name (/run/netns, e.g. sy-h2) or
                                       the host name a process there runs under (node2). Needs
                                       root and CRIU 4.2+; jobs started by 'switchyard run' only

Options:
  --job ID          the job to talk to (an id from 'switchyard ctl jobs', or its unique start)
  --controller HOST:PORT
                    reach a job's controller directly (mpirun/srun jobs), with --secret-file
  --secret-file FILE
                    a file holding the job secret (the 'secret' of its record, or the bare secret)
  --ranks LIST      limit the verb to the links of these ranks, e.g. 0,2-5 (status: show only these)
  --mca KEY VALUE   a parameter for apply (repeatable)
  --timeout MS      how long each rank gets to answer each phase of the verb (prepare, commit,
                    rollback; default 10000 and 60000) or status (default 5000), in ms, or with a
                    unit (500ms, 30s, 2m: switchyard run counts seconds); a rank that takes
                    longer fails the verb, named in the message. The drains of a commit get this
                    time less a margin: one that cannot finish fails the verb, which is rolled back;
                    reaching the job's launcher gets at most this long too (default 5000)
  --watch           status: show it again every --interval seconds (redrawn on a terminal,
                    appended under a timestamp otherwise; --json: one object per line) until
                    Ctrl-C or the job ends
  --interval S      the --watch period in seconds (default ${DEFAULT_WATCH_INTERVAL_S})
  --leave-running   checkpoint save: the job runs on after the dump (checkpoint continue)
  --to HOST         migrate: the host rank R moves to
  --criu PATH       checkpoint save, migrate: the CRIU binary (4.2 or newer; default: crs_criu_path, then PATH)
  --json            machine-readable output
  -h, --help        show this help (after a VERB: that verb's own)
`;

const JOB_OPTION: OptionSpec = { name: 'job', arity: 1 };
const RANKS_OPTION: OptionSpec = { name: 'ranks', arity: 1 };
const TIMEOUT_OPTION: OptionSpec = { name: 'timeout', arity: 1 };
const CONTROLLER_OPTION: OptionSpec = { name: 'controller', arity: 1 };
const SECRET_FILE_OPTION: OptionSpec = { name: 'secret-file', arity: 1 };
const WATCH_OPTION: OptionSpec = { name: 'watch', arity: 0 };
const INTERVAL_OPTION: OptionSpec = { name: 'interval', arity: 1 };
const LEAVE_RUNNING_OPTION: OptionSpec = { name: 'leave-running', arity: 0 };
const CRIU_OPTION: OptionSpec = { name: 'criu', arity: 1 };
const TO_OPTION: OptionSpec = { name: 'to', arity: 1 };

const CTL_VERBS = ['jobs', 'status', ...VERB_NAMES] as const;
type CtlVerb = (typeof CTL_VERBS)[number];

/** What stops a command from the terminal or from kill (a terminal or ssh session gone too). */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** How often the progress line asks the coordinator how far the verb got. */
const PROGRESS_INTERVAL_MS = 200;

export const ctl: Command = async (argv, io) => {
  try {
    return await ctlVerb(argv, io);
  } catch (err) {
    // A tool that asked for JSON reads stdout: a usage error answers there too (exit 2 as ever).
    if (err instanceof UsageError && asksForJson(argv)) answerFailure(io, 'usage', { code: 'ERR_CTL_USAGE', message: err.message });
    throw err;
  }
};

async function ctlVerb(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv, [
    JOB_OPTION,
    RANKS_OPTION,
    JSON_OPTION,
    MCA_OPTION,
    TIMEOUT_OPTION,
    CONTROLLER_OPTION,
    SECRET_FILE_OPTION,
    WATCH_OPTION,
    INTERVAL_OPTION,
    LEAVE_RUNNING_OPTION,
    CRIU_OPTION,
    TO_OPTION,
    HELP_OPTION,
  ]);
  if (args.options.get('help')) {
    const verb = args.positionals[0];
    io.stdout.write(verb === 'migrate' ? MIGRATE_USAGE : ((verb !== undefined && verbUsage(USAGE, verb)) || USAGE));
    return 0;
  }
  const [name, ...rest] = args.positionals;
  if (name === undefined) throw new UsageError(`missing VERB; verbs: ${CTL_VERBS.join(', ')}`);
  if (!(CTL_VERBS as readonly string[]).includes(name)) {
    const near = closest(name, CTL_VERBS);
    throw new UsageError(`unknown verb '${name}'${near ? ` (did you mean '${near}'?)` : ''}; verbs: ${CTL_VERBS.join(', ')}`);
  }
  const verbName = name as CtlVerb;
  const json = args.options.get('json') === true;
  const jobId = args.options.get('job') as string | undefined;
  const ranksText = args.options.get('ranks') as string | undefined;
  const mca = mcaPairs(args);
  const timeoutMs = parseTimeout(args.options.get('timeout') as string | undefined);
  const direct = directTarget(
    args.options.get('controller') as string | undefined,
    args.options.get('secret-file') as string | undefined,
    jobId,
  );

  // Everything that can be checked without the job is checked before talking to it.
  const watchMs = watchInterval(verbName, args.options.get('watch') === true, args.options.get('interval') as string | undefined);
  if (mca.length && verbName !== 'apply') throw new UsageError(`--mca is for apply; ${verbName} takes none`);
  if (ranksText !== undefined && (verbName === 'jobs' || verbName === 'checkpoint')) {
    throw new UsageError(verbName === 'jobs' ? 'jobs takes no --ranks' : 'checkpoint applies to every rank; it takes no --ranks');
  }
  if (verbName === 'jobs' && (jobId !== undefined || timeoutMs !== undefined || direct)) {
    throw new UsageError(`jobs lists every job; it takes no --${jobId !== undefined ? 'job' : direct ? 'controller' : 'timeout'}`);
  }
  if (verbName === 'migrate' && rest[0] !== 'back') {
    const options = migrateOptions(rest, args.options, ranksText, json, timeoutMs);
    if (direct) {
      throw new UsageError('migrate moves a rank of a job started by switchyard run on this machine: give --job, not --controller');
    }
    return await migrateJob(jobId, options, io);
  }
  if (args.options.has('to')) throw new UsageError('--to is for migrate');
  const save = verbName === 'checkpoint' && rest[0] === 'save' ? saveOptions(rest, args.options, json, timeoutMs) : undefined;
  if (!save && (args.options.has('leave-running') || args.options.has('criu'))) {
    throw new UsageError(`--${args.options.has('criu') ? 'criu' : 'leave-running'} is for checkpoint save`);
  }
  if (save && direct) {
    throw new UsageError('checkpoint save dumps a job started by switchyard run on this machine: give --job, not --controller');
  }
  let ranks: number[] | undefined;
  if (ranksText !== undefined) ranks = rankList(ranksText);
  if (save) return await saveJob(jobId, save, io);
  const verb = verbName === 'jobs' || verbName === 'status' ? undefined : buildVerb(verbName, rest, mca, ranks);
  if (!verb && rest.length) throw new UsageError(`${verbName} takes no arguments, got '${rest.join(' ')}'`);

  try {
    if (verbName === 'jobs') return await listRunningJobs(io, json);
    const job = direct ?? (await findJob(jobId));
    const client = await connect(job, timeoutMs);
    try {
      // Ranks must exist in the job: only now do we know its size.
      if (ranksText !== undefined) ranks = rankList(ranksText, client.size);
      if (!verb && watchMs !== undefined) return await watch(client, io, json, ranks, timeoutMs, watchMs);
      if (!verb) return await showStatus(client, io, json, ranks, timeoutMs);
      // Checkpoint never takes --ranks (refused above).
      return await runVerb(client, io, json, ranks && verb.verb !== 'checkpoint' ? { ...verb, ranks } : verb, timeoutMs, job.jobId);
    } finally {
      client.close();
    }
  } catch (err) {
    if (!(err instanceof CtlError)) throw err;
    // A tool that asked for JSON reads stdout: it gets an answer there too, with the typed reason.
    if (json) answerFailure(io, 'failed', err);
    io.stderr.write(`switchyard ctl: ${err.message}\n`);
    return 1;
  }
}

// ---- the verbs -------------------------------------------------------------------------------

async function listRunningJobs(io: CommandIO, json: boolean): Promise<number> {
  const jobs = await findJobs();
  io.stdout.write(json ? `${JSON.stringify(jobs.map(publicJob), null, 2)}\n` : renderJobs(jobs));
  return 0;
}

function fetchStatus(client: ToolClient, timeoutMs: number | undefined): Promise<CtlStatus> {
  const params: CtlStatusParams = timeoutMs !== undefined ? { timeoutMs } : {};
  // The ranks get `timeoutMs` to answer; the coordinator gets a little more to gather them.
  return call(client, TOOL_CTL_STATUS, params, timeoutMs === undefined ? undefined : timeoutMs + 2000) as Promise<CtlStatus>;
}

function onlyRanks(status: CtlStatus, ranks: number[] | undefined): CtlStatus {
  return ranks ? { ...status, ranks: status.ranks.filter((r) => ranks.includes(r.rank)) } : status;
}

function watch(
  client: ToolClient,
  io: CommandIO,
  json: boolean,
  ranks: number[] | undefined,
  timeoutMs: number | undefined,
  intervalMs: number,
): Promise<number> {
  return watchStatus(io, {
    intervalMs,
    json,
    fetch: async () => onlyRanks(await fetchStatus(client, timeoutMs), ranks),
    render: (status) => renderStatus(status),
  });
}

async function showStatus(
  client: ToolClient,
  io: CommandIO,
  json: boolean,
  ranks: number[] | undefined,
  timeoutMs: number | undefined,
): Promise<number> {
  const status = await fetchStatus(client, timeoutMs);
  if (json) {
    io.stdout.write(`${JSON.stringify(onlyRanks(status, ranks), null, 2)}\n`);
  } else {
    io.stdout.write(renderStatus(status, ranks));
  }
  const unanswered = status.ranks.filter((r) => (!ranks || ranks.includes(r.rank)) && 'error' in r);
  return unanswered.length ? 1 : 0;
}

async function runVerb(
  client: ToolClient,
  io: CommandIO,
  json: boolean,
  verb: Verb,
  timeoutMs: number | undefined,
  jobId: string,
): Promise<number> {
  const progress = new ProgressLine(client, io.stderr, io.stderr.isTTY === true);
  const params: CtlParams = timeoutMs === undefined ? verb : { ...verb, timeoutMs };
  // The coordinator bounds each phase (prepare, commit, abort) by the timeout and then answers;
  // waiting here too only guards against a launcher that stopped answering at all.
  const wait = timeoutMs === undefined ? undefined : 3 * timeoutMs + 5000;
  // Ctrl-C ends this command, not the verb: the job's coordinator carries it out on every rank
  // or on none whoever waits for it. Said, so nobody takes the silence for a cancel.
  const onStop = (signal: NodeJS.Signals) => {
    progress?.stop();
    io.stderr.write(
      `switchyard ctl: ${signal}: '${describeVerb(verb)}' goes on in job ${jobId} (its coordinator carries a verb out on every ` +
        `rank or on none); 'switchyard ctl --job ${jobId} status' shows how it ends\n`,
    );
    process.exit(128 + constants.signals[signal]);
  };
  for (const s of STOP_SIGNALS) process.once(s, onStop);
  let result: VerbResult;
  try {
    result = (await call(client, TOOL_CTL, params, wait)) as VerbResult;
  } finally {
    progress?.stop();
    for (const s of STOP_SIGNALS) process.off(s, onStop);
  }
  if (json) {
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (!result.ok) io.stderr.write(`switchyard ctl: ${renderVerbResult(result).stderr}\n`);
  } else {
    const text = renderVerbResult(result);
    io.stdout.write(text.stdout);
    if (text.stderr) io.stderr.write(`switchyard ctl: ${text.stderr}\n`);
  }
  return result.ok ? 0 : 1;
}

/** `switch openib: commit 3/8 ranks`, redrawn in place on a terminal while the verb runs. */
class ProgressLine {
  readonly #client: ToolClient;
  readonly #out: NodeJS.WritableStream;
  readonly #tty: boolean;
  readonly #timer: NodeJS.Timeout;
  #shown = '';
  /** Off a terminal: the phase and busy ranks last said, so a log gets a line per new wait, not per poll. */
  #said = '';
  #polling = false;
  #stopped = false;

  constructor(client: ToolClient, out: NodeJS.WritableStream, tty: boolean) {
    this.#client = client;
    this.#out = out;
    this.#tty = tty;
    this.#timer = setInterval(() => this.#poll(), PROGRESS_INTERVAL_MS);
  }

  #poll(): void {
    if (this.#polling || this.#stopped) return;
    this.#polling = true;
    this.#client.call(TOOL_CTL_PROGRESS).then(
      (p) => {
        this.#polling = false;
        const progress = p as VerbProgress;
        if (this.#stopped || !progress.phase) return;
        if (!this.#tty) return this.#sayWait(progress);
        const text = describeProgress(progress);
        if (text === this.#shown) return;
        this.#shown = text;
        this.#out.write(`\r\x1b[K${text}`);
      },
      () => {
        // The answer to the verb itself says what went wrong; progress is best effort.
        this.#polling = false;
      },
    );
  }

  /** Piped or logged: a whole line when the verb starts waiting for a busy rank (a redrawn line would be noise). */
  #sayWait(progress: VerbProgress): void {
    const busy = progress.busy ?? [];
    const key = busy.length ? `${progress.phase} ${busy.map((b) => b.rank).join(',')}` : '';
    if (key && key !== this.#said) this.#out.write(`switchyard ctl: ${describeProgress(progress)}\n`);
    this.#said = key;
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    if (this.#shown) this.#out.write('\r\x1b[K');
    this.#shown = '';
  }
}

async function saveJob(jobId: string | undefined, options: SaveOptions, io: CommandIO): Promise<number> {
  try {
    const criu = await wantedCriu(options.criu, io);
    return await checkpointSave(await findJob(jobId), connect, { ...options, criu }, io);
  } catch (err) {
    if (!(err instanceof CheckpointError) && !(err instanceof CtlError)) throw err;
    const saved = err instanceof CheckpointError && err.saved;
    const ended = err instanceof CheckpointError && err.jobEnded;
    const outcome = saved ? 'saved, then failed' : ended ? 'failed' : 'refused';
    if (options.json) answerFailure(io, outcome, err);
    const state = saved ? `the checkpoint in ${options.dir} is complete` : ended ? `${options.dir} is as it was` : 'nothing changed';
    io.stderr.write(`switchyard ctl: checkpoint save: ${err.message}; ${state}\n`);
    return 1;
  }
}

/** The answer on stdout of a ctl call that did not succeed, for a tool that asked for --json. */
function answerFailure(io: CommandIO, outcome: string, err: { readonly code?: string | undefined; readonly message: string }): void {
  const answer = { ok: false, outcome, ...(err.code ? { code: err.code } : {}), message: err.message };
  io.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
}

async function migrateJob(jobId: string | undefined, options: MigrateOptions, io: CommandIO): Promise<number> {
  try {
    const job = await findJob(jobId);
    // A rank the job does not have is a usage error, as it is for every other verb.
    rankList(String(options.rank), job.np);
    const criu = await wantedCriu(options.criu, io);
    return await migrateRank(job, connect, { ...options, criu }, io);
  } catch (err) {
    if (!(err instanceof CheckpointError) && !(err instanceof CtlError)) throw err;
    if (options.json) answerFailure(io, 'refused', err);
    io.stderr.write(`switchyard ctl: migrate: ${err.message}\n`);
    return 1;
  }
}

function migrateOptions(
  rest: string[],
  options: Map<string, unknown>,
  ranksText: string | undefined,
  json: boolean,
  timeoutMs: number | undefined,
): MigrateOptions {
  if (rest.length) throw new UsageError(`migrate takes --ranks R --to HOST, not '${rest.join(' ')}'`);
  if (options.has('leave-running')) throw new UsageError('--leave-running is for checkpoint save');
  if (ranksText === undefined) throw new UsageError('migrate needs the rank to move: --ranks R');
  const ranks = rankList(ranksText);
  if (ranks.length !== 1) throw new UsageError(`migrate moves one rank at a time, got --ranks ${ranksText}`);
  const to = options.get('to') as string | undefined;
  if (!to) throw new UsageError('migrate needs the host to move to: --to HOST');
  return { rank: ranks[0]!, to, criu: options.get('criu') as string | undefined, json, timeoutMs };
}

function saveOptions(rest: string[], options: Map<string, unknown>, json: boolean, timeoutMs: number | undefined): SaveOptions {
  if (rest.length < 2) throw new UsageError('checkpoint save needs a folder: switchyard ctl checkpoint save DIR');
  if (rest.length > 2) throw new UsageError(`checkpoint save takes one DIR, got '${rest.slice(1).join(' ')}'`);
  const criu = options.get('criu') as string | undefined;
  return { dir: rest[1]!, leaveRunning: options.get('leave-running') === true, criu, json, timeoutMs };
}

// ---- finding and reaching the job ------------------------------------------------------------

async function findJob(id: string | undefined): Promise<JobRecord> {
  const all = await findJobs();
  const jobs = all.filter((j) => !j.stale);
  const list = (js: readonly JobRecord[]) =>
    js.map((j) => `${j.jobId} (${j.np} ranks, ${basename(j.script)}, ${describePid(j)})`).join(', ');
  if (id !== undefined) {
    const exact = jobs.find((j) => j.jobId === id);
    if (exact) return exact;
    const matches = jobs.filter((j) => j.jobId.startsWith(id));
    if (matches.length === 1 && id !== '') return matches[0]!;
    if (matches.length > 1 && id !== '') {
      throw new CtlError(`'${id}' matches several jobs: ${list(matches)}; give more of the id`, 'ERR_CTL_JOB_AMBIGUOUS');
    }
    const stale = all.find((j) => j.stale && j.jobId.startsWith(id) && id !== '');
    if (stale)
      throw new CtlError(
        `job ${stale.jobId} has a record but its controller (${stale.controller?.join(', ')}) does not answer: the job has probably ended`,
        'ERR_CTL_JOB_UNREACHABLE',
      );
    throw new CtlError(
      `no running job '${id}'; ${jobs.length ? `running jobs: ${list(jobs)}` : 'no switchyard job of this user is running'}`,
      'ERR_CTL_NO_JOB',
    );
  }
  if (jobs.length === 0) throw new CtlError('no running switchyard job of this user', 'ERR_CTL_NO_JOB');
  if (jobs.length > 1) {
    const ids = jobs.map((j) => j.jobId).join(', ');
    throw new CtlError(`several jobs are running (${ids}); choose one with --job ID`, 'ERR_CTL_JOB_AMBIGUOUS');
  }
  return jobs[0]!;
}

/** How long the launcher gets to take a connection, unless --timeout asks for less. */
const CONNECT_TIMEOUT_MS = 5000;

async function connect(job: JobRecord, timeoutMs?: number): Promise<ToolClient> {
  try {
    // --timeout bounds the whole command: reaching a launcher that does not answer too.
    return await connectTool(job, { connectTimeoutMs: Math.min(CONNECT_TIMEOUT_MS, timeoutMs ?? CONNECT_TIMEOUT_MS) });
  } catch (err) {
    // A launcher stopped by SIGSTOP (Ctrl-Z, a debugger) answers nothing until SIGCONT: say so, as
    // ctl says it of a stopped rank, rather than leave the operator to guess why it is silent.
    const stopped = !job.controller && launcherStopped(job) ? `; ${stoppedResumeNote(job.pid)}` : '';
    throw new CtlError(
      `cannot reach job ${job.jobId} (${describePid(job)}): ${(err as Error).message}${stopped}`,
      'ERR_CTL_JOB_UNREACHABLE',
    );
  }
}

// ---- arguments -------------------------------------------------------------------------------

function buildVerb(
  name: Exclude<CtlVerb, 'jobs' | 'status'>,
  rest: string[],
  mca: Array<[string, string]>,
  ranks: number[] | undefined,
): Verb {
  const scope = ranks ? { ranks } : {};
  /** The verb's one argument: `needs` says what it is, `takes` how many, `syntax` how it looks. */
  const one = (needs: string, takes: string, syntax: string): string => {
    if (rest.length === 0) throw new UsageError(`${name} needs ${needs}: switchyard ctl ${name} ${syntax}`);
    if (rest.length > 1) throw new UsageError(`${name} takes ${takes}, got '${rest.join(' ')}'`);
    return rest[0]!;
  };
  let params: Record<string, unknown>;
  switch (name) {
    case 'switch':
      params = {
        verb: name,
        btls: one('one or more BTLs', 'one comma-separated list of BTLs', 'BTL[,BTL...]')
          .split(',')
          .map((b) => b.trim()),
        ...scope,
      };
      break;
    case 'unload':
    case 'load': {
      const btl = one('a BTL', 'one BTL', 'BTL');
      if (btl.includes(',')) throw new UsageError(`${name} takes one BTL, got '${btl}'`);
      params = { verb: name, btl, ...scope };
      break;
    }
    case 'apply':
      if (rest.length) throw new UsageError(`apply takes --mca KEY VALUE pairs, not '${rest.join(' ')}'`);
      params = { verb: name, mca, ...scope };
      break;
    case 'checkpoint': {
      const phase = one('a phase', 'one phase', 'prepare|continue|restart|save DIR');
      if (!['prepare', 'continue', 'restart'].includes(phase))
        throw new UsageError(`checkpoint takes prepare, continue, restart or save DIR, got '${phase}'`);
      params = { verb: name, phase };
      break;
    }
    case 'reset':
      if (rest.length) throw new UsageError(`reset takes no arguments, got '${rest.join(' ')}'`);
      params = { verb: name, ...scope };
      break;
    case 'migrate': {
      // A move is handled whole by migrate-command.ts; `migrate back` alone brings back the links
      // of a rank whose move was cut short after `migrate away` (it still runs where it was).
      if (rest.length !== 1 || rest[0] !== 'back' || ranks?.length !== 1) {
        throw new UsageError('migrate takes --ranks R --to HOST (or back --ranks R)');
      }
      params = { verb: name, phase: 'back', ranks };
      break;
    }
  }
  try {
    return validateVerb(params);
  } catch (err) {
    if (err instanceof VerbError) throw new UsageError(err.message);
    throw err;
  }
}

function rankList(text: string, size?: number): number[] {
  try {
    return parseRankList(text, size);
  } catch (err) {
    throw new UsageError(`--ranks: ${(err as Error).message}`);
  }
}

/** `--watch [--interval S]`, for status only: the refresh period in ms, or undefined without --watch. */
function watchInterval(verb: CtlVerb, watch: boolean, interval: string | undefined): number | undefined {
  if (!watch) {
    if (interval !== undefined) throw new UsageError('--interval goes with --watch');
    return undefined;
  }
  if (verb !== 'status') throw new UsageError(`--watch is for status; ${verb} takes none`);
  if (interval === undefined) return DEFAULT_WATCH_INTERVAL_S * 1000;
  const seconds = /^\d+(\.\d+)?$/.test(interval.trim()) ? Number(interval) : NaN;
  if (!(seconds >= 0.1 && seconds <= 3600)) throw new UsageError(`--interval takes seconds between 0.1 and 3600, got '${interval}'`);
  return Math.round(seconds * 1000);
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  // A bare number is milliseconds; a unit says so outright, since `switchyard run --timeout` and
  // mpirun's count seconds and `--timeout 5` here would give a verb 5 ms.
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  const ms = m ? Math.floor(Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 1 || ms > MAX_VERB_TIMEOUT_MS) {
    const what = `a positive number of milliseconds (at most ${MAX_VERB_TIMEOUT_MS}), or with a unit: 500ms, 30s, 2m`;
    throw new UsageError(`--timeout takes ${what}, got '${text}'`);
  }
  return ms;
}

/** A job given by its controller's address and a secret file, with no record to find. */
function directTarget(controller: string | undefined, secretFile: string | undefined, jobId: string | undefined): JobRecord | undefined {
  if (controller === undefined && secretFile === undefined) return undefined;
  if (controller === undefined) throw new UsageError('--secret-file goes with --controller HOST:PORT');
  if (secretFile === undefined) throw new UsageError('--controller needs --secret-file FILE (the job secret)');
  if (jobId !== undefined) throw new UsageError('--job and --controller both choose the job; give one');
  try {
    parseTcpAddress(controller);
  } catch (err) {
    throw new UsageError(`--controller: ${(err as Error).message}`);
  }
  return {
    jobId: controller,
    pid: 0,
    np: 0,
    script: '',
    args: [],
    cwd: '',
    startTime: '',
    socketPath: '',
    jobDir: '',
    secret: readSecret(secretFile),
    launcher: 'pmix',
    controller: [controller],
  };
}

/** The secret in `path`: a job record's `secret`, or the file's text. */
function readSecret(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`--secret-file: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (text.startsWith('{')) {
    try {
      const secret = (JSON.parse(text) as { secret?: unknown }).secret;
      if (typeof secret === 'string' && secret) return secret;
    } catch {}
    throw new UsageError(`--secret-file: ${path} is JSON without a string 'secret'`);
  }
  if (!text) throw new UsageError(`--secret-file: ${path} is empty`);
  return text;
}

function describePid(job: JobRecord): string {
  if (job.controller) return `controller ${job.controller[0]}${job.pid ? `, rank pid ${job.pid}${job.host ? ` on ${job.host}` : ''}` : ''}`;
  return `launcher pid ${job.pid}`;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
