/**
 * The contract job's rank script: `switchyard run -n N ... contract-rank.js CONFIG_JSON`.
 * Every rank loads the component under test through the btl framework (open, apply, init, as a
 * hot load does) with the kit as its host, wires it up through the runtime's modex, and runs the
 * checks in lockstep with the other ranks (synchronised over the runtime, never over the BTL).
 * Each verdict is printed as a line the test process reads.
 */
import { sendLedger } from './send-ledger.js';
import type { BtlInitContext, BtlModule } from '@switchyard/btl-interface';
import { init, internals } from '@switchyard/mpi';
import { REPORT_PREFIX, SCRATCH_ENV as SCRATCH, START_PREFIX, type ContractConfig, type RuleReport } from '../protocol.js';
import { peerLossProblems, misuseProblems, twice, UncaughtRecorder } from './checks/errors.js';
import { checkCompletion } from './checks/completion.js';
import { checkProgress } from './checks/progress.js';
import { checkSendi } from './checks/sendi.js';
import { checkAuthentication } from './checks/authentication.js';
import { checkFlush } from './checks/flush.js';
import { LossBystanders } from './checks/loss-bystanders.js';
import { goneCardProblems } from './checks/gone-card.js';
import { checkRefusals, readd } from './checks/readd.js';
import { checkSoak } from './checks/soak.js';
import { checkBackPressure } from './checks/back-pressure.js';
import { checkFinalizeStoppedPeer, checkStoppedPeer } from './checks/stopped-peer.js';
import { firstWindow } from './checks/window-drift.js';
import { checkRdma } from './checks/rdma.js';
import { cardProblems, checkShape } from './checks/shape.js';
import { relativeCardPaths } from './checks/relative-card.js';
import { checkEagerLimit, checkOrdering, checkSendSizes, type TrafficContext } from './checks/traffic.js';
import { notApplicable, verdictOf, type Verdict } from './checks/verdict.js';
import { KitTest } from './fragments.js';
import { initContext } from './init-context.js';
import { startImpostor } from './impostor.js';
import { KitHost } from './kit-host.js';
import { DescriptorGrowth } from './descriptor-growth.js';
import { LeakTracker } from './leak-tracker.js';
import { probeLeaks } from './probe-leaks.js';
import { probeWhileLoaded } from './probe-loaded.js';
import { probeSizeMismatch } from './probe-sizes.js';
import { ProcessListeners } from './process-listeners.js';
import { moveFiguresOffDefaults, moveSizesOffDefaults, sizeDefaultProblems } from './size-params.js';
import { bounded, callLimitMs, PendingCallError } from './pending.js';
import { runRound } from './round.js';
import { StopControl } from './stop.js';
import { tracked, unloadHangs } from './unloads.js';
import { Wiring } from './wiring.js';
import { loadElsewhere } from './load-elsewhere.js';
import { enterOwnFolder } from './own-folder.js';

const TRAFFIC_RULES = ['send-sizes', 'eager-limit', 'ordering', 'flush', 'back-pressure', 'completion', 'progress', 'sendi',
  'authentication', 'rdma', 'refusals', 'early-arrival', 'soak', 'stopped-peer', 'errors-to-bml', 'link-loss', 'reload-card'];
const config = JSON.parse(process.argv[2] ?? '{}') as ContractConfig;
const world = await init();
const { rank } = world;
// The kit drives transports and wire-up itself: the runtime under the world, not its API.
const { transports, wireup } = internals(world);
const framework = transports.framework;
const name = config.component;
// Taken now: reload-card moves the variable for a while, the runner's stop folder stays here.
const scratch = process.env[SCRATCH];
const stop = new StopControl(scratch, rank);
const uncaught = new UncaughtRecorder();
uncaught.install();

const wants = (rule: string) => config.rules.includes(rule);
const reported = new Set<string>();
/** The first rule that failed on this rank: where an author should look first when a later one ends the job. */
let firstFailed: string | undefined;
function report(rule: string, verdict: Verdict): void {
  if (!wants(rule) || reported.has(rule)) return;
  reported.add(rule);
  if (verdict.status === 'fail') firstFailed ??= rule;
  const line: RuleReport = { rule, rank, status: verdict.status, ...(verdict.observed ? { observed: verdict.observed } : {}) };
  console.log(`${REPORT_PREFIX}${JSON.stringify(line)}`);
}
/** Says a check began, so a job that hangs in it fails that rule rather than the next. */
function begin(rule: string): void {
  host.leftovers.enter(rule);
  sendLedger.rule = rule;
  if (wants(rule)) console.log(`${START_PREFIX}${JSON.stringify({ rule, rank })}`);
}
/** Runs a check if asked for; an exception out of it (the module threw) fails the rule. */
async function check(rule: string, run: () => Promise<Verdict> | Verdict): Promise<void> {
  if (!wants(rule) || reported.has(rule)) return;
  begin(rule);
  const started = performance.now();
  const uncaughtBefore = uncaught.seen.length;
  try {
    const verdict = await run();
    // An exception that escaped while this check ran fails it too, whatever the check saw.
    const escaped = uncaught.seen
      .slice(uncaughtBefore)
      .map((e) => `${e} (a module must report errors to the BML, not throw: see errors-to-bml)`);
    const own = escaped.length && rule !== 'errors-to-bml'
      ? verdictOf([...(verdict.status === 'fail' ? [verdict.observed!] : []), ...escaped])
      : verdict;
    report(rule, withLeftovers(own));
    if (process.env.SWITCHYARD_KIT_VERBOSE === '1')
      process.stderr.write(`[kit] rank ${rank}: ${rule} took ${Math.round(performance.now() - started)} ms\n`);
  } catch (error) {
    report(rule, withLeftovers(failure(error)));
    // Cut short at any point by the module's exception: the other ranks may wait in this check
    // for a step this rank will never take, or this rank in the next for theirs. Ending the job
    // now gives every later rule its verdict at once, not when the job's time runs out.
    if (!(error instanceof PendingCallError)) {
      // A rule that calls send itself reports a throw and goes on: the first failure may be earlier.
      const first = firstFailed !== rule ? `; the first rule that failed on rank ${rank} was '${firstFailed}'` : '';
      blockRest(`rule '${rule}' stopped on an exception on rank ${rank}, which leaves the ranks out of step${first}`);
      process.exit(1);
    }
  }
}
/**
 * A failed verdict names what an earlier rule left queued that arrived meanwhile (not counted
 * against this rule): the earlier rule's link was still busy, which may be why this one failed.
 */
function withLeftovers(verdict: Verdict): Verdict {
  const late = host.leftovers.describe();
  if (late) host.log(`rank ${rank}: ${late}`);
  return late && verdict.status === 'fail' ? { ...verdict, observed: `${verdict.observed}; ${late}` } : verdict;
}
/** A check that stopped on an exception: a call that never resolved says which and how long; else the stack. */
function failure(error: unknown): Verdict {
  if (error instanceof PendingCallError) return verdictOf([error.message]);
  return verdictOf([`the check stopped on an exception: ${(error as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? error}`]);
}
function blockRest(why: string): void {
  for (const rule of config.rules) report(rule, verdictOf([`not checked: ${why}`]));
}

async function finish(code = 0): Promise<never> {
  // A module whose finalize never resolved (already reported) must not hold the job until the
  // kit kills it: every verdict is printed by now. One still hanging in the kit's unload would only
  // be called again by the job's finalize (see unloads.ts): the rank leaves without it, which ends
  // the job (wherever the kit unloaded the component, this comes after 'kit-done': every rank has
  // printed its verdicts).
  if (!unloadHangs()) await bounded('the job\'s finalize', world.finalize(), callLimitMs(config.waitMs ?? 10_000)).catch(() => {});
  process.exit(code);
}

// Before the component under test is first imported: from here on this rank runs in a folder of
// its own, as a rank of a real job may (the project config was read from the job's folder at init).
enterOwnFolder(rank);
// The component under test is loaded later by the kit, not at start-up: import it now to check it.
const record = framework.record(name) ? await framework.importComponent(name) : undefined;
if (!record || !record.loadable) {
  const found = framework.records().map((r) => `${r.name} (${r.status})`).join(', ');
  report(
    'manifest',
    verdictOf([
      record
        ? `btl component '${name}' is ${record.status}: ${record.reason}`
        : `no btl component '${name}' was found; found: ${found || 'none'}`,
    ]),
  );
  blockRest(`the component could not be loaded (see rule 'manifest')`);
  await finish();
}

const waitMs = config.waitMs;
const leaks = new LeakTracker();
await wireup.barrier('kit-before-load');
// process.stdout / stderr are created on first use: before the tracker starts, not inside it.
void process.stdout.writable;
void process.stderr.writable;
leaks.start();
const host = new KitHost(process.env.SWITCHYARD_KIT_VERBOSE === '1');
const params = framework.paramsOf(name);
// Before the kit moves them: the component's own defaults, as users run it.
const sizeDefaults = sizeDefaultProblems(framework.mca.params, params.fullName(''));
// At the declared max send size, before the kit moves it: reported under manifest with the probes below.
const mismatch = await probeSizeMismatch(framework.mca.params, params.fullName(''), () => framework.query(name));
const moved = [
  ...moveSizesOffDefaults(framework.mca.params, params.fullName('')),
  ...moveFiguresOffDefaults(framework.mca.params, params.fullName('')),
];
if (moved.length) host.log(`eager-limit: the kit loads the component with ${moved.join(', ')} (off their defaults)`);
const context = (): BtlInitContext => initContext(world, wireup, params, host);

let modules: readonly BtlModule[] = [];
let handlesBeforeWiring: ReadonlySet<number> = new Set();
let probed: string[] = [];
try {
  begin('manifest');
  probed = [...mismatch, ...(await probeLeaks(() => framework.query(name), name))];
  modules = await framework.load(name, context());
  sendLedger.track(modules);
  probed.push(...(await probeWhileLoaded(() => framework.query(name), name, modules.length)));
  handlesBeforeWiring = leaks.liveIds();
} catch (error) {
  report('manifest', verdictOf([`loading btl component '${name}' failed: ${record!.reason ?? (error as Error).message}`]));
  blockRest(`the component could not be loaded (see rule 'manifest')`);
  await finish();
}
report('manifest', verdictOf(probed));
await check('module-shape', () => checkShape(name, modules));

let wiring: Wiring;
try {
  begin('modex-card');
  const probe = await unreachableProbe(modules);
  wiring = await Wiring.wire(wireup, host, name, modules, 'first', waitMs);
  const traffic = await runRound(wiring, host, 'warmup', { test: KitTest.WARMUP, sizes: () => [64], waitMs });
  await check('modex-card', () =>
    verdictOf([...cardProblems(modules), ...relativeCardPaths(modules), ...probe, ...wiring.connectProblems, ...wiring.asymmetries(),
      ...traffic.violations]),
  );
} catch (error) {
  report('modex-card', verdictOf([(error as Error).message]));
  blockRest(`the component could not be wired up (see rule 'modex-card')`);
  await finish();
}

let ctx: TrafficContext = { wiring: wiring!, host, waitMs };
if (!wiring!.reach.some((ofRank) => ofRank.some((ranks) => ranks.length > 0))) {
  // Nothing to send to: a check of traffic that cannot exist would pass by default.
  const why = `no module of btl ${name} has an endpoint for any rank of this ${world.size}-rank job (not even its own), so it carries no ` +
    `traffic to check`;
  for (const rule of TRAFFIC_RULES) report(rule, notApplicable(why));
}
await check('send-sizes', () => checkSendSizes(ctx));
await check('eager-limit', () => checkEagerLimit(ctx, params, sizeDefaults));
await check('ordering', () => checkOrdering(ctx));
await check('flush', () => checkFlush(ctx));
await check('back-pressure', () => checkBackPressure(ctx, stop));
await check('completion', () => checkCompletion(ctx));
await check('progress', () => checkProgress(ctx, scratch));
await check('sendi', () => checkSendi(ctx));
// While the first links are up: the impostor calls peers whose real modules already carry traffic.
const impostor = () => startImpostor((c) => record!.component!.init(c), context(), (m) => host.log(m));
await check('authentication', () => checkAuthentication({ ...ctx, component: name, impostor }));
// Last of the checks on the first links: touching released memory may fail a link for good (as a
// real HCA's remote access error does); refusals deletes every endpoint and early-arrival adds
// the peers again, so the checks after it run on new links.
await check('rdma', () => checkRdma(ctx));
if (wants('refusals') || wants('early-arrival')) {
  const linksGone = () => leaks.perPeerLeft(handlesBeforeWiring, callLimitMs(waitMs));
  await check('refusals', () => checkRefusals(ctx, linksGone));
  if (!reported.has('refusals')) await checkRefusals(ctx, linksGone);
  // A job asked for refusals alone (or with earlier rules) has every verdict now: the re-add
  // below would hold the late ranks for holdMs only to check rules nobody asked for.
  if (config.rules.every((r) => reported.has(r))) {
    await wireup.barrier('kit-done');
    await finish();
  }
  begin('early-arrival');
  try {
    const again = await readd(ctx, name, config.holdMs);
    ctx = { ...ctx, wiring: again.wiring };
    report('early-arrival', withLeftovers(again.verdict));
  } catch (error) {
    report('early-arrival', withLeftovers(failure(error)));
  }
}
// stopped-peer's first reading of the send window, before the soak's long run (see window-drift.ts).
// Its fragments are stopped-peer's: one arriving late during the soak is not the soak's.
if (wants('stopped-peer')) host.leftovers.enter('stopped-peer');
const firstReading = wants('stopped-peer') && !reported.has('stopped-peer')
  ? await firstWindow(ctx, stop).catch((error: Error) => ({ reading: new Map<string, number>(), problems: [failure(error).observed!] }))
  : undefined;
await check('soak', () => checkSoak(ctx, config.soakMs, config.streamFragments));
const drift = firstReading && { first: firstReading, carried: 2 * config.streamFragments, run: !wants('soak') };
await check('stopped-peer', () => checkStoppedPeer(ctx, stop, config.stopMs, drift));

// Odd ranks lose their module first (finalize without delProcs); even ranks must cope.
const lost = new Set(Array.from({ length: world.size }, (_, r) => r).filter((r) => r % 2 === 1));
const losing = ['errors-to-bml', 'link-loss', 'reload-card', 'finalize-releases'].some(wants) && ctx.wiring.reachesPeers();
/** The component's state in this rank: its wiring, or none once unloaded. */
let current: Wiring | undefined = ctx.wiring;
const unloadProblems: string[] = [];
const unload = async () => {
  current = undefined;
  try {
    await bounded(`finalize() of btl ${name} (unload)`, tracked(framework.unload(name)), callLimitMs(waitMs));
  } catch (error) {
    unloadProblems.push(`unloading ${error instanceof PendingCallError ? 'failed' : 'threw'}: ${(error as Error).message}`);
  }
};
/** What the lost ranks' finalize left open while their peers lived on: finalize-releases reports it. */
const pooled: string[] = [];
/**
 * A finalize without delProcs (a lost module, a shutdown) closes every connection too. Looked at
 * now, while the peers still hold their ends: a connection kept in a process-wide pool for the
 * next load closes only when its peer's side does, and the next load takes it over with the old
 * module's handlers (its loss never reported), so after the reload no handle count sees it.
 */
async function connectionsAfterLoss(): Promise<string[]> {
  const left = [...(await leaks.connectionsLeft(handlesBeforeWiring, 1500))].map(([type, n]) => `${n} ${type}`);
  if (!left.length) return [];
  return [`after finalize() without delProcs (this rank's module lost while its peers' modules lived on), connections still open: ` +
    `${left.join(', ')} (opened since the module was loaded; finalize must close them, not keep them for the next load)`];
}
let loss: Promise<{ errors: string[]; linkLoss: string[] }> | undefined;
const lossPhase = () =>
  (loss ??= (async () => {
    // Receiving before the misuse checks' last sync: no rank sends to a bystander before it listens.
    const bystanders = losing ? new LossBystanders(ctx.wiring, host, lost, waitMs) : undefined;
    const errors = await misuseProblems(ctx.wiring, host, waitMs);
    // Counted from before the loss: a module may see it (a reset) and report it while this rank
    // still waits for the others below, and then rightly fail the sends without a second report.
    const errorsAtLoss = host.errors.length;
    if (bystanders) {
      // What the module sent last when the loss comes goes to a peer that lives on.
      bystanders.send(`right before the modules of rank(s) ${[...lost].join(', ')} were finalized`);
      await ctx.wiring.sync('bystanders-sent');
    }
    if (losing && lost.has(rank)) {
      await unload();
      pooled.push(...(await connectionsAfterLoss()));
    }
    await ctx.wiring.sync('peers-lost');
    const seen = losing && !lost.has(rank)
      ? await peerLossProblems(ctx.wiring, host, lost, waitMs, errorsAtLoss,
          (peer) => bystanders?.send(`right after its sends to rank ${peer}, whose module was finalized`))
      : { errors: [], linkLoss: [] };
    const bystanderProblems = (await bystanders?.settle(errorsAtLoss)) ?? [];
    await ctx.wiring.sync('loss-seen');
    return { errors: [...errors, ...seen.errors, ...unloadProblems], linkLoss: [...seen.linkLoss, ...bystanderProblems] };
  })());
await check('errors-to-bml', async () => {
  const { errors } = await lossPhase();
  await wireup.barrier('kit-errors-settled');
  return verdictOf([...errors, ...twice.slice(0, 4), ...uncaught.seen]);
});
await check('link-loss', async () =>
  losing ? verdictOf((await lossPhase()).linkLoss) : notApplicable('the module reaches no other rank, so no link to one can be lost'),
);
if (!losing) report('reload-card', notApplicable('the module reaches no other rank, so no peer can come back with a new card'));
// finalize-releases looks at the lost ranks' finalize too, asked for alone or not.
if (losing) await lossPhase().catch(() => undefined);
if (wants('reload-card') && losing) {
  await lossPhase();
  await check('reload-card', async () => {
    const v: string[] = [];
    let modulesNow = ctx.wiring.modules;
    if (lost.has(rank)) {
      const before = JSON.stringify(modulesNow.map((m) => m.businessCard ?? null));
      modulesNow = await loadElsewhere(`init() of btl ${name} loaded again`, () => framework.load(name, context()), waitMs);
      if (JSON.stringify(modulesNow.map((m) => m.businessCard ?? null)) === before)
        host.log(`reload-card: the reloaded module published the same card as before (fine if its address is fixed)`);
    } else {
      // Before the lost ranks' new cards are known: their old ones name addresses nobody listens on.
      v.push(...(await goneCardProblems(ctx.wiring, host, lost, waitMs)));
    }
    const keep = ctx.wiring.endpoints.map((map) => new Map([...map].filter(([r]) => !lost.has(r))));
    const rewired = await Wiring.wire(wireup, host, name, modulesNow, 'new-card', waitMs,
      lost.has(rank) ? {} : { refresh: true, add: (r) => lost.has(r), keep });
    current = rewired;
    v.push(...rewired.connectProblems.map((p) => `after rank(s) ${[...lost].join(', ')} reloaded: ${p}`));
    const round = await runRound(rewired, host, 'new-card', {
      test: KitTest.NEW_CARD,
      sizes: (_, i) => [64, Math.min(modulesNow[i]!.maxSendSize, 4096)],
      waitMs,
    });
    v.push(...round.violations.map((p) => `after rank(s) ${[...lost].join(', ')} reloaded the component (new cards): ${p}`));
    return verdictOf(v);
  });
}
if (current) {
  await bounded('delProcs()', current.delProcs(), callLimitMs(waitMs)).catch((error: Error) => unloadProblems.push(error.message));
  await unload();
}
await check('finalize-releases', async () => {
  const open = await leaks.leftOpen(1500);
  const left = [...open].map(([type, n]) => `${n} ${type}`);
  return verdictOf([
    ...unloadProblems,
    ...pooled,
    ...(left.length ? [`after delProcs and finalize, still open: ${left.join(', ')} (created since the component was loaded)`] : []),
  ]);
});
leaks.stop();
await wireup.barrier('kit-unloaded');

await check('lifecycle-reload', async () => {
  host.endpoints.clear();
  const reloadLeaks = new LeakTracker();
  reloadLeaks.start();
  // Counted from the first unload on: a listener made once per process (the soft verbs provider's
  // exit hook) is already there, one per load or module shows up again.
  const reloadListeners = new ProcessListeners();
  const descriptors = new DescriptorGrowth();
  const again = await bounded(`load of btl ${name} (open, init) after its unload`, framework.load(name, context()), callLimitMs(waitMs));
  const v: string[] = [];
  if (again.some((m) => modules.includes(m))) v.push('the reload returned module objects of the first load (finalized ones)');
  const rewired = await Wiring.wire(wireup, host, name, again, 'reload', waitMs);
  v.push(...rewired.connectProblems.map((p) => `after unload and load: ${p}`));
  // A reloaded module that reaches nobody would carry no traffic, and pass the round below.
  const reachedNow = new Set(rewired.endpoints.flatMap((map) => [...map.keys()]));
  const lostReach = [...new Set(wiring!.endpoints.flatMap((map) => [...map.keys()]))].filter((r) => !reachedNow.has(r));
  if (lostReach.length)
    v.push(`after unload and load, the new modules have no endpoint for rank(s) ${lostReach.join(', ')}, which the first load reached ` +
      `(state kept from the first load, e.g. at file scope, that a second init trips over?)`);
  const round = await runRound(rewired, host, 'reload', {
    test: KitTest.RELOAD,
    sizes: (_, i) => [64, Math.min(again[i]!.maxSendSize, 4096)],
    waitMs,
  });
  v.push(...round.violations.map((p) => `after unload and load: ${p}`));
  await bounded('delProcs() of the reloaded modules', rewired.delProcs(), callLimitMs(waitMs));
  await bounded(`finalize() of the reloaded btl ${name} (unload)`, tracked(framework.unload(name)), callLimitMs(waitMs));
  const open = [...(await reloadLeaks.leftOpen(1500))].map(([type, n]) => `${n} ${type}`);
  reloadLeaks.stop();
  if (open.length) v.push(`after the reloaded modules' delProcs and finalize, still open: ${open.join(', ')}`);
  const added = reloadListeners.added();
  if (added.length)
    v.push(`after the reloaded modules' delProcs and finalize, process listeners still added by this load: ${added.join(', ')} (each ` +
      `holds a finalized module for good, and every reload adds more: finalize must remove what the module added)`);
  // More cycles, load and unload only: a descriptor left per load grows with them, a stray one does not.
  await descriptors.afterFinalize();
  while (descriptors.cyclesLeft > 0) {
    await bounded(`load of btl ${name} (open, init) for a descriptor count`, framework.load(name, context()), callLimitMs(waitMs));
    await bounded(`finalize() of btl ${name} (unload) for a descriptor count`, tracked(framework.unload(name)), callLimitMs(waitMs));
    await descriptors.afterFinalize();
  }
  const grown = descriptors.problem(name);
  if (grown) v.push(grown);
  return verdictOf(v);
});

// Last: a finalize that hangs here leaves the component half unloaded, which no check after it could use.
await check('finalize-stopped-peer', async () => {
  host.endpoints.clear();
  const loaded = await bounded(`load of btl ${name} (open, init) for a third time`, framework.load(name, context()), callLimitMs(waitMs));
  const wired = await Wiring.wire(wireup, host, name, loaded, 'finalize-stopped', waitMs);
  const unload = () => tracked(framework.unload(name));
  const verdict = await checkFinalizeStoppedPeer({ wiring: wired, host, waitMs, stop, name, unload });
  if (!wired.connectProblems.length) return verdict;
  return verdictOf([...wired.connectProblems, ...(verdict.status === 'fail' ? [verdict.observed!] : [])]);
});
// finalize() talks over the job's BTLs: no rank may start it while another still counts handles.
await wireup.barrier('kit-done');
await finish();

/** addProcs with a card that is not this component's: must answer, not throw. */
async function unreachableProbe(list: readonly BtlModule[]): Promise<string[]> {
  const peers = Array.from({ length: world.size }, (_, r) => r).filter((r) => r !== rank);
  const procs = peers.map((r) => ({ rank: r, hostname: 'kit.invalid', local: false, cards: [{ kit: 'not a card of yours' }] }));
  const v: string[] = [];
  for (const m of list) {
    try {
      const result = await m.addProcs(procs);
      if (!Array.isArray(result) || result.length !== procs.length)
        v.push(`'${m.name}'.addProcs returned ${Array.isArray(result) ? result.length : String(result)} entries for ${procs.length} procs`);
    } catch (error) {
      v.push(
        `'${m.name}'.addProcs threw for a peer with a foreign card (it must answer undefined for a peer it cannot reach): ` +
          `${(error as Error).message}`,
      );
    }
  }
  return v;
}
