/**
 * A side job's rank script: `switchyard run -n N ... side-rank.js CONFIG_JSON`, one rule in a job
 * of its own. wide-job: many ranks, each sending a few fragments to every endpoint, then every
 * peer deleted in one delProcs call and added again (odd ranks reloaded), a second exchange, and
 * rank 1 deleted alone while the others send on.
 * two-jobs: one of two jobs the kit runs on the host at once, meeting the other (files, not the
 * runtime) once both loaded the component and once both sent. Lean on purpose: load, wire up,
 * exchange, unload; each rank prints its verdict.
 */
import type { BtlModule } from '@switchyard/btl-interface';
import { init, internals } from '@switchyard/mpi';
import { REPORT_PREFIX, SCRATCH_ENV, type CutAnswer, type RuleReport, type SideConfig } from '../protocol.js';
import { crossTalk, type CrossTalkOptions } from './checks/cross-talk.js';
import { checkLinkCut } from './checks/link-cut.js';
import { onePeerDeletedAlone } from './checks/wide-delete-one.js';
import { severalDeletedAtOnce } from './checks/wide-delprocs.js';
import { notApplicable, verdictOf, type Verdict } from './checks/verdict.js';
import { initContext } from './init-context.js';
import { JobMeeting } from './job-pair.js';
import { KitHost } from './kit-host.js';
import { LeakTracker } from './leak-tracker.js';
import { loadElsewhere } from './load-elsewhere.js';
import { enterOwnFolder } from './own-folder.js';
import { CutControl, newSockets, openSockets } from './cut-control.js';
import { bounded, callLimitMs } from './pending.js';
import { until } from './round.js';
import { runtimeSocketFds } from './runtime-sockets.js';
import { StopControl } from './stop.js';
import { tracked, unloadHangs } from './unloads.js';
import { Wiring } from './wiring.js';

// process.stdout / stderr are created on first use: before the tracker starts, not inside it.
void process.stdout.writable;
void process.stderr.writable;
const config = JSON.parse(process.argv[2] ?? '{}') as SideConfig;
const world = await init();
const { rank } = world;
// Before the component under test is imported: a folder of its own, as a rank of a real job may run in.
enterOwnFolder(rank);
const { transports, wireup } = internals(world);
const framework = transports.framework;
const name = config.component;
const { waitMs, pair } = config;
const meeting = pair ? new JobMeeting(pair, wireup) : undefined;
const verbose = process.env.SWITCHYARD_KIT_VERBOSE === '1';
/** With SWITCHYARD_KIT_VERBOSE=1, when each step ended (since the process started): where a slow side job spends its time. */
const step = (what: string) => verbose && process.stderr.write(`[kit] rank ${rank}: ${what} at ${Math.round(performance.now())} ms\n`);
const jobName = (job: number) => (pair ? `job ${job === pair.index ? pair.label : pair.other}` : 'this job');

async function check(): Promise<Verdict> {
  const record = framework.record(name) ? await framework.importComponent(name) : undefined;
  const host = new KitHost(verbose);
  let modules: readonly BtlModule[] = [];
  let loadProblem: string | null = null;
  // wide-job: connections opened since the load and still open once every peer is deleted.
  const leaks = new LeakTracker();
  let handlesBeforeWiring: ReadonlySet<number> = new Set();
  // link-cut: the sockets open before the load are the runtime's and the kit's, never cut.
  const socketsBefore = new Set(openSockets().values());
  if (!record?.loadable) loadProblem = `btl component '${name}' cannot be loaded: ${record?.reason ?? 'not found'} (see rule manifest)`;
  else {
    try {
      const context = initContext(world, wireup, framework.paramsOf(name), host);
      leaks.start();
      modules = await bounded(`load of btl ${name} (open, init)`, framework.load(name, context), callLimitMs(waitMs));
    } catch (error) {
      loadProblem = `loading btl ${name} failed: ${(error as Error).message}`;
    }
  }
  // Every rank learns whether all loaded it, so none waits in a wire-up the others never join.
  const loads = await wireup.exchange({ loadProblem }, 'kit-side-loaded');
  const failedLoads = loads.flatMap((e, r) => (typeof e.loadProblem === 'string' && r !== rank ? [`rank ${r}: ${e.loadProblem}`] : []));
  if (loadProblem || failedLoads.length) {
    meeting?.abandon();
    return verdictOf(loadProblem ? [loadProblem] : [`not checked: ${failedLoads.join('; ')}`]);
  }
  handlesBeforeWiring = leaks.liveIds();
  step('loaded');
  const met = await meeting?.meet('loaded');
  const wiring = await Wiring.wire(wireup, host, name, modules, 'side', waitMs);
  step('wired');
  const v = [...wiring.connectProblems];
  if (!wiring.reachesPeers()) {
    meeting?.abandon();
    await unload(wiring, v);
    return notApplicable(`no module of btl ${name} reaches another rank in this ${world.size}-rank job`);
  }
  if (met) {
    v.push(met);
    // Late, not gone, perhaps: it must not wait for this job at the next phase either.
    meeting?.abandon();
  }
  const settle = meeting && !met ? () => meeting.meet('exchanged') : undefined;
  const elsewhere = pair ? ` in job ${pair.label}: sent to an address job ${pair.other} took over?` : undefined;
  const options = { job: pair?.index ?? 0, jobName, waitMs, ...(settle ? { settle } : {}), ...(elsewhere ? { elsewhere } : {}) };
  v.push(...(await crossTalk(wiring, host, options)));
  step('exchanged');
  let last = wiring;
  if (config.rule === 'wide-job') {
    v.push(...(await severalDeletedAtOnce(wiring, host, waitMs, () => leaks.connectionsLeft(handlesBeforeWiring, callLimitMs(waitMs)))));
    step('deleted at once');
    last = await addedAgain(wiring, host, v, options);
    step('added again');
    v.push(...(await onePeerDeletedAlone(last, host, waitMs)));
    step('deleted one alone');
  }
  leaks.stop();
  if (config.rule === 'link-cut') return linkCut(wiring, host, v, socketsBefore);
  await unload(last, v);
  step('unloaded');
  return verdictOf(v);
}

/**
 * wide-job, after every peer was deleted at once: the odd ranks load the component again with new
 * cards, the even ranks keep their modules and add every rank again (as the BML does when peers
 * reload), and the exchange runs once more: a peer a delProcs forgot to delete keeps its old card
 * at the re-add, and what goes to it is lost.
 */
async function addedAgain(wiring: Wiring, host: KitHost, v: string[], options: CrossTalkOptions): Promise<Wiring> {
  const reloads = rank % 2 === 1;
  const after = 'after every peer was deleted in one delProcs call and added again (the odd ranks reloaded with new cards)';
  let modules = wiring.modules;
  if (reloads) {
    await bounded(`finalize() of btl ${name} (unload)`, tracked(framework.unload(name)), callLimitMs(waitMs));
    const context = initContext(world, wireup, framework.paramsOf(name), host);
    modules = await loadElsewhere(`init() of btl ${name} loaded again`, () => framework.load(name, context), waitMs);
  }
  const again = await Wiring.wire(wireup, host, name, modules, 'side-again', waitMs, reloads ? {} : { refresh: true });
  v.push(...again.connectProblems.map((p) => `${after}: ${p}`));
  v.push(...(await crossTalk(again, host, { ...options, round: '-again' })).map((p) => `${after}: ${p}`));
  return again;
}

/**
 * link-cut, once traffic flowed both ways: the links are cut from outside and checked (see
 * checkLinkCut); then delProcs and finalize must close every socket the module opened since it
 * was loaded (counted in /proc/self/fd, the job's own transport's left out), the ones it opened
 * again after the cut among them.
 */
async function linkCut(wiring: Wiring, host: KitHost, v: string[], socketsBefore: ReadonlySet<number>): Promise<Verdict> {
  const scratch = process.env[SCRATCH_ENV];
  const stop = new StopControl(scratch, rank);
  const cut = new CutControl(scratch, rank);
  const runtimeSockets = () => runtimeSocketFds([...transports.modules().values()].flat());
  const verdict = await checkLinkCut({ wiring, host, waitMs, stop, cut, socketsBefore, runtimeSockets });
  step('cut');
  await unload(wiring, v);
  if (verdict.status === 'n/a' && !v.length) return verdict;
  if (verdict.status === 'fail') v.unshift(verdict.observed!);
  if (verdict.status !== 'n/a') v.push(...(await connectionsLeft(cut, socketsBefore, runtimeSockets)));
  return verdictOf(v);
}

/**
 * After delProcs and finalize, the connections between rank 0 and rank 1 opened since the load
 * and still open, as the kit's runner sees them (a socket to the launcher, the runtime's, joins
 * no two ranks and is not counted). Closes under way are waited for (up to 1.5 s).
 */
async function connectionsLeft(cut: CutControl, socketsBefore: ReadonlySet<number>, runtime: () => ReadonlySet<number>): Promise<string[]> {
  await until(() => newSockets(socketsBefore, runtime()).length === 0, 1500);
  cut.list('left', socketsBefore, runtime());
  await wireup.barrier('kit-link-cut-left-listed');
  const answer = rank === 0 ? await cut.request('left', waitMs) : undefined;
  const left = (await wireup.exchange({ left: answer ?? null }, 'kit-link-cut-left'))[0]!.left as CutAnswer | null;
  if (!left?.cut.length) return [];
  return [`after the cut, delProcs and finalize left ${left.cut.length} connection(s) between the ranks open: ${left.cut.join('; ')}`];
}

/** delProcs and finalize, each bounded: a job that cannot unload does not finish. */
async function unload(wiring: Wiring, v: string[]): Promise<void> {
  await bounded('delProcs()', wiring.delProcs(), callLimitMs(waitMs)).catch((error: Error) => v.push(error.message));
  await bounded(`finalize() of btl ${name} (unload)`, tracked(framework.unload(name)), callLimitMs(waitMs)).catch((error: Error) =>
    v.push(error.message),
  );
}

let verdict: Verdict;
try {
  verdict = await check();
} catch (error) {
  meeting?.abandon();
  verdict = verdictOf([`the check stopped on an exception: ${(error as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? error}`]);
}
const line: RuleReport = { rule: config.rule, rank, status: verdict.status, ...(verdict.observed ? { observed: verdict.observed } : {}) };
console.log(`${REPORT_PREFIX}${JSON.stringify(line)}`);
// Every rank's verdict is printed before any leaves without the job's finalize (which ends the
// job), as a rank whose unload of the component still hangs does (see unloads.ts). A rank that
// times out here would wait as long again in the job's finalize (its barrier): it leaves at once.
const reported = bounded('every rank\'s verdict', wireup.barrier('kit-side-reported'), callLimitMs(waitMs));
if ((await reported.then(() => true, () => false)) && !unloadHangs())
  await bounded('the job\'s finalize', world.finalize(), callLimitMs(waitMs)).catch(() => {});
process.exit(0);
