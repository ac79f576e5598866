import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Setup } from '../options.js';
import { linesWith, TRAFFIC_PREFIX, type TrafficConfig, type TrafficReport } from '../protocol.js';
import { COMPANION_COMPONENT, jobArgs } from './job-args.js';
import { kitTempDir } from './kit-temp.js';
import { scratchDir, start, tail, type ProcessOutput, type Started } from './launch.js';
import type { Outcomes } from './outcome.js';
import { rankScript, switchyardCli } from './paths.js';
import { StatusWatch } from './status-watch.js';

/** The rules the control job decides. */
export const CONTROL_RULES = ['drain', 'switch-cycle', 'switch-back-first-message', 'script-end'] as const;

interface RankStatus {
  readonly rank: number;
  /** Absent when the rank did not answer (then `error` says why). */
  readonly components: ReadonlyArray<{ name: string; modules: readonly string[] }>;
  readonly error?: string;
  readonly peers: ReadonlyArray<{ rank: number; reachable?: readonly string[] }>;
  readonly traffic: ReadonlyArray<{ btl: string; fragmentsSent: number; fragmentsReceived: number }>;
}

type Problems = Record<(typeof CONTROL_RULES)[number], string[]>;

/**
 * Runs the control job: traffic between all ranks while the kit drives `switchyard ctl` as a user
 * would: switch to the BTL, away (a drain), back (the first messages must use it), unload it,
 * load it, use it again, reset. Then every message must have arrived once, in order, intact.
 */
export async function runControlJob(setup: Setup): Promise<Outcomes> {
  // Found first: without the CLI nothing is started and no folder is left behind.
  const cli = switchyardCli();
  const dir = kitTempDir('ctl');
  const config: TrafficConfig = { component: setup.component, stopFile: join(dir, 'stop'), readyFile: join(dir, 'ready') };
  const X = setup.component;
  const limitMs = setup.timeoutMs - 2000;
  const args = [...jobArgs(setup, [X, 'self', COMPANION_COMPONENT], limitMs), rankScript('traffic-rank'), JSON.stringify(config)];
  const job = start(cli, args, { cwd: setup.packageDir, timeoutMs: limitMs, scratch: scratchDir() });
  const problems: Problems = { drain: [], 'switch-cycle': [], 'switch-back-first-message': [], 'script-end': [] };
  const notApplicable = new Map<string, string>();
  let ctl: Ctl | undefined;
  try {
    const jobId = await ready(job, config.readyFile, setup.waitMs * 2);
    if (typeof jobId !== 'string') return everyRule({ status: 'fail', observed: jobId.problem });
    ctl = new Ctl(jobId, setup.waitMs, limitMs);
    const cycle = new Cycle(ctl, X, setup.waitMs, problems);
    const answer = await firstStatus(ctl, job);
    const first = answer.ranks;
    const silent = first.filter((r) => !r.components);
    if (!first.length || silent.length) {
      // The job ended already (a rank failed on its first messages), or it runs and some rank does
      // not answer (its event loop stopped, or a machine too loaded): no verb could be carried out.
      const ended = hasExited(job);
      job.kill();
      const out = await job.exited;
      const why = silent.length
        ? silent.map((r) => `rank ${r.rank}: ${r.error ?? 'no answer'}`).join('; ')
        : answer.text || 'no output';
      const how = ended
        ? `the control job ended before the kit could switch it (${out.signal ?? `exit code ${out.code}`})`
        : `the control job runs but did not answer 'switchyard ctl status' in ${STATUS_TRIES} tries (${why}); the kit stopped it`;
      return everyRule({ status: 'fail', observed: `${how}; stderr: ${tail(out.stderr)}` });
    }
    const reach = reachOf(first, X);
    const target = reach === 'all' ? [X] : reach === 'some' ? [X, COMPANION_COMPONENT] : undefined;
    if (!target) {
      const why = `btl ${X} reaches no other rank, so switching cannot move traffic onto it or off it (a rank's traffic to itself always ` +
        `stays on self)`;
      notApplicable.set(
        'switch-back-first-message',
        `${why}; after unload and load the kit checked it carries the rank's own traffic again (rule switch-cycle)`,
      );
    }
    if (target) {
      if (await cycle.verb('switch-cycle', ['switch', target.join(',')]))
        await cycle.flowsOver('switch-cycle', `after 'switch ${target.join(',')}'`);
      if (await cycle.verb('drain', ['switch', COMPANION_COMPONENT])) await cycle.quietAfterAway();
      if (await cycle.verb('switch-cycle', ['switch', target.join(',')]))
        await cycle.flowsOver('switch-back-first-message', `after switching back ('switch ${target.join(',')}')`);
      // Unloading under a policy of this BTL alone is refused: back to the configured policy, where it still carries the traffic.
      await cycle.verb('switch-cycle', ['reset']);
    }
    if (await cycle.verb('drain', ['unload', X])) {
      const loadedOn = (await ctl.status()).filter((r) => r.components.some((c) => c.name === X)).map((r) => r.rank);
      if (loadedOn.length)
        problems['switch-cycle'].push(`after 'unload ${X}', ctl status still lists it on rank(s) ${loadedOn.join(', ')}`);
      if (await cycle.verb('switch-cycle', ['load', X])) {
        const missing = (await ctl.status()).filter((r) => !r.components.some((c) => c.name === X && c.modules.length)).map((r) => r.rank);
        if (missing.length)
          problems['switch-cycle'].push(`after 'load ${X}', ctl status shows no module of it on rank(s) ${missing.join(', ')}`);
        if (target) await cycle.verb('switch-cycle', ['switch', target.join(',')]);
        await cycle.flowsOver(target ? 'switch-back-first-message' : 'switch-cycle', `after 'unload ${X}' and 'load ${X}'`);
      }
    }
    await cycle.verb('switch-cycle', ['reset']);
    writeFileSync(config.stopFile, '1');
    // Ranks waiting for a message that was lost never finish: give them a while, then stop them.
    const stopping = setTimeout(() => job.kill(), setup.waitMs * 3);
    const out = await job.exited;
    clearTimeout(stopping);
    const stopped = out.signal === 'SIGKILL' && !out.timedOut;
    const traffic = trafficProblems(stopped ? { ...out, code: null } : out, setup.ranks, stopped ? setup.waitMs * 3 : undefined);
    // Every rank's script returned (each reported, with nothing missing) and still the ranks did not exit.
    const returned = stopped && traffic.length === 1 && linesWith<TrafficReport>(out.stdout, TRAFFIC_PREFIX).length === setup.ranks;
    if (returned) {
      problems['script-end'].push(
        `every rank's script returned without finalize() (as mpi4py scripts do; the runtime finalizes at exit, once nothing keeps ` +
          `the event loop alive), yet after ${setup.waitMs * 3} ms no rank had exited and they were killed: a handle of the module ` +
          '(a socket, a server, a timer) keeps the event loop alive while the module is loaded. unref() it: the runtime holds the ' +
          'loop itself while a message is awaited',
      );
    } else {
      problems['switch-cycle'].push(...traffic);
    }
  } finally {
    ctl?.close();
    job.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  const outcomes: Outcomes = new Map();
  for (const rule of CONTROL_RULES) {
    const p = problems[rule];
    if (p.length) outcomes.set(rule, { status: 'fail', observed: p.join('\n    ') });
    else if (notApplicable.has(rule)) outcomes.set(rule, { status: 'n/a', observed: notApplicable.get(rule)! });
    else outcomes.set(rule, { status: 'pass' });
  }
  return outcomes;

  function everyRule(outcome: { status: 'fail'; observed: string }): Outcomes {
    return new Map(CONTROL_RULES.map((r) => [r, outcome]));
  }
}

/** Waits for rank 0 to write the job id; a job that exits first is a failure with its stderr. */
async function ready(job: Started, file: string, ms: number): Promise<string | { problem: string }> {
  const deadline = Date.now() + ms;
  let exited = false;
  job.exited.then(() => (exited = true));
  while (!existsSync(file) || readFileSync(file, 'utf8') === '') {
    if (exited || Date.now() > deadline) {
      job.kill();
      const out = await job.exited;
      return {
        problem: `the control job did not start (${exited ? `exit code ${out.code}` : `no traffic after ${ms} ms`}); stderr: ` +
          `${tail(out.stderr)}`,
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return readFileSync(file, 'utf8');
}

/** Does the BTL reach every other rank from every rank, some, or none? */
function reachOf(status: readonly RankStatus[], X: string): 'all' | 'some' | 'none' {
  let reached = 0;
  let pairs = 0;
  for (const r of status) {
    const mine = new Set(r.components.find((c) => c.name === X)?.modules ?? []);
    for (const p of r.peers) {
      if (p.rank === r.rank) continue;
      pairs += 1;
      if ((p.reachable ?? []).some((m) => mine.has(m))) reached += 1;
    }
  }
  return reached === 0 ? 'none' : reached === pairs ? 'all' : 'some';
}

function trafficProblems(out: ProcessOutput, ranks: number, stoppedAfterMs?: number): string[] {
  const reports = linesWith<TrafficReport>(out.stdout, TRAFFIC_PREFIX);
  const p: string[] = [];
  if (stoppedAfterMs !== undefined)
    p.push(
      `the ranks did not finish within ${stoppedAfterMs} ms of being asked to stop and were killed: a message they wait for never ` +
        'came, or a handle of the module (a timer, a socket) kept their process alive (finalize-releases names those)',
    );
  else if (out.code !== 0)
    p.push(
      `the job ${out.timedOut ? 'hung and was stopped' : `ended with ${out.signal ?? `exit code ${out.code}`}`}; stderr: ` +
        `${tail(out.stderr)}`,
    );
  for (const r of reports) for (const problem of r.problems) p.push(`rank ${r.rank}: ${problem}`);
  for (const r of reports) {
    const short = r.received.map((n, source) => [source, n] as const).filter(([, n]) => n !== r.iterations);
    if (short.length)
      p.push(`rank ${r.rank} ran ${r.iterations} iterations but received ${short.map(([s, n]) => `${n} from rank ${s}`).join(', ')}`);
  }
  if (out.code === 0 && reports.length < ranks) p.push(`only ${reports.length} of ${ranks} ranks reported their traffic`);
  return p;
}

/** Beyond its verb's commit and rollback (two wait periods each), what ctl gets to start and report. */
const CTL_GRACE_MS = 15_000;

/** `switchyard ctl --job ID ... --json`, run as a user would; the status from one `status --watch` kept open. */
class Ctl {
  readonly #watch: StatusWatch<RankStatus>;

  constructor(
    readonly jobId: string,
    readonly waitMs: number,
    limitMs: number,
  ) {
    this.#watch = new StatusWatch(jobId, waitMs * 5 + CTL_GRACE_MS, limitMs);
  }

  close(): void {
    this.#watch.close();
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each check reads the fields of the verb it ran
  async run(args: readonly string[]): Promise<{ code: number | null; json?: any; text: string }> {
    // A verb is bounded by ctl itself (its drains too), well before the kit gives up on ctl: a
    // link that owes a fragment fails the verb with ctl's reason, and no verb is left running
    // into the next rule.
    const bounded = ['--timeout', String(this.waitMs * 2)];
    const killAfterMs = this.waitMs * 5 + CTL_GRACE_MS;
    const p = start(switchyardCli(), ['ctl', '--job', this.jobId, ...args, ...bounded, '--json'], { timeoutMs: killAfterMs });
    const out = await p.exited;
    let json: unknown;
    try {
      json = JSON.parse(out.stdout);
    } catch {
      // Not JSON: the message is in stderr.
    }
    const text = `${out.stderr}${out.stdout}`.trim();
    if (out.timedOut) {
      return { code: out.code, text: `ctl did not answer within ${killAfterMs} ms and was stopped${text ? `: ${text}` : ''}` };
    }
    return { code: out.code, json, text };
  }

  async status(): Promise<RankStatus[]> {
    return (await this.statusWithText()).ranks;
  }

  /** The ranks' status, gathered after this call, and what ctl said when none answered. */
  statusWithText(): Promise<{ ranks: RankStatus[]; text: string }> {
    return this.#watch.fresh();
  }
}

/** Tries of the first `ctl status` while the job runs: one that times out on a loaded machine is not the job's end. */
const STATUS_TRIES = 3;

async function firstStatus(ctl: Ctl, job: Started): Promise<{ ranks: RankStatus[]; text: string }> {
  const answered = (ranks: readonly RankStatus[]) => ranks.length > 0 && ranks.every((r) => r.components);
  let answer = await ctl.statusWithText();
  for (let i = 1; i < STATUS_TRIES && !answered(answer.ranks) && !hasExited(job); i++) answer = await ctl.statusWithText();
  return answer;
}

function hasExited(job: Started): boolean {
  return job.child.exitCode !== null || job.child.signalCode !== null;
}

/** The steps of the cycle, each recording what went wrong under the rule it tests. */
class Cycle {
  constructor(
    readonly ctl: Ctl,
    readonly X: string,
    readonly waitMs: number,
    readonly problems: Problems,
  ) {}

  /** Runs a verb; false (and a problem under `rule`) when it did not end 'done'. */
  async verb(rule: keyof Problems, args: readonly string[]): Promise<boolean> {
    const out = await this.ctl.run(args);
    if (out.code === 0 && out.json?.outcome === 'done') return true;
    const errors = (out.json?.errors as Array<{ message: string }> | undefined)?.map((e) => e.message).join('; ');
    this.problems[rule].push(`'switchyard ctl ${args.join(' ')}' ${out.json?.outcome ?? 'failed'}: ${errors || out.text}`);
    return false;
  }

  /** Fragments received over the BTL, summed over ranks. */
  async received(btl = this.X): Promise<number> {
    const status = await this.ctl.status();
    return status.reduce((n, r) => n + (r.traffic.find((t) => t.btl === btl)?.fragmentsReceived ?? 0), 0);
  }

  async sent(btl = this.X): Promise<number> {
    const status = await this.ctl.status();
    return status.reduce((n, r) => n + (r.traffic.find((t) => t.btl === btl)?.fragmentsSent ?? 0), 0);
  }

  /** Traffic reaches the ranks over the BTL within the wait. */
  async flowsOver(rule: keyof Problems, when: string): Promise<void> {
    const before = await this.received();
    const deadline = Date.now() + this.waitMs;
    // Each look waits for the watch's next status: no pause of its own.
    while (Date.now() < deadline) if ((await this.received()) > before) return;
    this.problems[rule].push(
      `${when}, no fragment arrived over ${this.X} within ${this.waitMs} ms (ctl status: ${before} received before, ` +
        `${await this.received()} after)`,
    );
  }

  /** After switching away, the drained BTL carries nothing more while traffic goes on elsewhere. */
  async quietAfterAway(): Promise<void> {
    const sent = await this.sent();
    const elsewhere = await this.received(COMPANION_COMPONENT);
    const deadline = Date.now() + this.waitMs;
    while (Date.now() < deadline && (await this.received(COMPANION_COMPONENT)) <= elsewhere);
    const after = await this.sent();
    if ((await this.received(COMPANION_COMPONENT)) <= elsewhere)
      this.problems.drain.push(
        `after 'switch ${COMPANION_COMPONENT}', traffic did not move to ${COMPANION_COMPONENT} within ${this.waitMs} ms`,
      );
    if (after > sent)
      this.problems.drain.push(
        `after 'switch ${COMPANION_COMPONENT}' returned (links drained), ${this.X} still carried ${after - sent} more fragment(s)`,
      );
  }
}
