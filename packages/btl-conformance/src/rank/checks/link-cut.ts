import type { BtlEndpoint, BtlModule } from '@switchyard/btl-interface';
import type { CutAnswer } from '../../protocol.js';
import type { CutControl } from '../cut-control.js';
import { KitTest, makeFragment, readFragment, segmentsOf, tagOf } from '../fragments.js';
import type { KitHost } from '../kit-host.js';
import { sendStream, until } from '../round.js';
import type { StopControl } from '../stop.js';
import type { Wiring } from '../wiring.js';
import { watchedSend, type WatchedCompletion } from './completion.js';
import { notApplicable, verdictOf, type Verdict } from './verdict.js';

const PHASE = 'link-cut';
const TEST = KitTest.LINK_CUT;
/** At most this much goes to the stopped rank before the cut: a module whose send never says false is failed by back-pressure. */
const CAP_BYTES = 24 * 1024 * 1024;
/** Sequence numbers of each stage, so a receiver knows what it got. */
const PROBE_BASE = 1_000_000;
const BURST_BASE = 2_000_000;
const IDLE_PROBE_BASE = 3_000_000;
const IDLE_BURST_BASE = 4_000_000;
const BURST = 32;
const BURST_SIZES = [64, 1500, 4096, 20];
/** The BML probes a failed link again this often while nothing else reaches the peer. */
const PROBE_EVERY_MS = 250;

export interface LinkCutContext {
  readonly wiring: Wiring;
  readonly host: KitHost;
  readonly waitMs: number;
  readonly stop: StopControl;
  readonly cut: CutControl;
  /** Socket inodes open before the component was loaded: the runtime's and the kit's, never cut. */
  readonly socketsBefore: ReadonlySet<number>;
  /** Descriptors of the sockets the job's own transport holds now (see runtimeSocketFds). */
  readonly runtimeSockets: () => ReadonlySet<number>;
}

interface Stream {
  readonly module: BtlModule;
  readonly moduleIndex: number;
  readonly endpoint: BtlEndpoint;
  readonly watches: Map<number, WatchedCompletion>;
}

/**
 * One cut and what follows it: the first under load (rank 1 stopped, rank 0's sends pending),
 * the second of the connections the modules opened again, idle, once everything had arrived: a
 * module that sends its last fragments again on a new connection ("the old one may have lost
 * them") delivers them twice.
 */
interface CutRoundPlan {
  readonly round: 'cut' | 'recut';
  readonly probeBase: number;
  readonly burstBase: number;
}
const UNDER_LOAD: CutRoundPlan = { round: 'cut', probeBase: PROBE_BASE, burstBase: BURST_BASE };
const IDLE: CutRoundPlan = { round: 'recut', probeBase: IDLE_PROBE_BASE, burstBase: IDLE_BURST_BASE };

/** What each rank tells the other once its sends are done, by module index: which went through, whether it reported the link lost. */
interface Sent {
  readonly okSeqs: number[][];
  readonly lossReported: boolean[];
  /** A probe went through on that module's link, and the burst followed it. */
  readonly through: boolean[];
}

/**
 * link-cut: the live connections between rank 0 and rank 1 are cut from outside while both
 * modules stay loaded (the runner shuts the sockets down with pidfd_getfd(2) + shutdown(2), as a
 * reset from the network ends them), with rank 1 stopped (SIGSTOP) and rank 0's sends to it
 * pending. The BML keeps the endpoint of a link reported lost and probes it (a send on the same
 * endpoint) until it answers, then sends on it again; so: a loss is reported at most once per
 * endpoint and never as fatal, every send completes exactly once, a send that completed without
 * an error arrives unless its link was reported lost, and once a probe got through (a module
 * that does not reconnect after a loss may fail them all) fragments flow both ways on the same
 * endpoints. What delProcs and finalize leave open is checked by the side rank after the unload.
 */
export async function checkLinkCut(ctx: LinkCutContext): Promise<Verdict> {
  const { wiring, host, waitMs, stop, cut } = ctx;
  const me = wiring.rank;
  const peer = 1 - me;
  if (wiring.reach.length !== 2) return notApplicable(`the rule runs in a 2-rank job (this one has ${wiring.reach.length})`);
  if (!stop.available || !cut.available) return verdictOf(['the kit\'s runner serves no stops or cuts in this job: is the kit built?']);
  const streams: Stream[] = wiring.modules.flatMap((module, moduleIndex) => {
    const endpoint = wiring.endpoints[moduleIndex]!.get(peer);
    return endpoint ? [{ module, moduleIndex, endpoint, watches: new Map() }] : [];
  });
  const v: string[] = [];
  const arrived = new Map<string, number>();
  const twice: string[] = [];
  host.sink(tagOf(TEST), (from, data) => {
    const id = readFragment(TEST, data);
    if (typeof id === 'string') return v.push(`from rank ${from}: ${id}`);
    const key = `${id.moduleIndex}:${id.seq}`;
    arrived.set(key, (arrived.get(key) ?? 0) + 1);
    if (arrived.get(key) === 2) twice.push(`${describe(id.seq)} of module ${id.moduleIndex} from rank ${from}`);
  });
  const duplicates = (): string[] =>
    twice.length
      ? [
          `${twice.length} fragment(s) arrived twice (${twice.slice(0, 4).join('; ')}${twice.length > 4 ? '; ...' : ''}): a module never ` +
            'sends a fragment again on its own, what a lost link may have taken is the PML\'s to send again',
        ]
      : [];
  try {
    cut.list('cut', ctx.socketsBefore, ctx.runtimeSockets());
    await wiring.sync('link-cut-listed');
    const errorsBefore = host.errors.length;
    const answer = await cutUnderLoad(ctx, streams, v);
    const shared = (await wiring.wireup.exchange({ answer: answer ?? null }, 'kit-link-cut-answer'))[0]!.answer as CutAnswer | null;
    if (!shared) return verdictOf([...v, `the kit's runner did not answer the request to cut within ${waitMs} ms`]);
    if (shared.unavailable) return notApplicable(`the kit cannot cut a connection from outside on this host: ${shared.unavailable}`);
    if (!shared.cut.length)
      return notApplicable(
        `no connection to cut: btl ${wiring.modules[0]?.component} holds no TCP or Unix stream connection joining rank 0 to ` +
          'rank 1 (the kit cuts those, as ss -K does; shared memory and datagram sockets cannot be cut from outside)',
      );
    host.log(`link-cut: cut ${shared.cut.join('; ')}`);
    const after = `after the kit cut ${connections(shared.cut.length)} between rank 0 and rank 1 from outside (${shared.cut.join('; ')})`;
    const problems: string[] = [];
    await completedOnce(streams, waitMs, problems);
    const through = await afterCut(ctx, streams, arrived, UNDER_LOAD, errorsBefore, problems);
    const again = await idleCut(ctx, streams.filter((_, i) => through[i]), arrived);
    problems.push(...completedTwice(streams));
    await wiring.sync('link-cut-end');
    v.push(...problems.map((p) => `${after}: ${p}`), ...again, ...duplicates());
    return verdictOf(v);
  } finally {
    host.sink(tagOf(TEST), undefined);
  }
}

/**
 * Rank 1 is stopped from outside; rank 0 sends to it until `send` says false (so sends are
 * pending in the module or the socket) and asks the runner to cut; rank 1 is continued then.
 */
async function cutUnderLoad(ctx: LinkCutContext, streams: readonly Stream[], v: string[]): Promise<CutAnswer | undefined> {
  const { stop, cut, waitMs, wiring } = ctx;
  const me = wiring.rank;
  if (me === 1) {
    if (!(await stop.stopMe(PHASE, 4 * waitMs, 1, 6 * waitMs))) v.push('the kit\'s runner never stopped and continued this rank');
    return undefined;
  }
  const notStopped = await stop.waitStopped(PHASE, [1], waitMs);
  if (notStopped.length) v.push('rank 1 was not stopped (SIGSTOP) within waitMs: the cut came with it running');
  for (const s of streams) fill(s, me);
  const answer = await cut.request('cut', waitMs);
  stop.release(PHASE, 1);
  return answer;
}

/**
 * What follows a cut: the BML's probes on each link until one gets through, then a burst each way
 * on the links that answered; everything the peer saw complete must arrive (once: the sink counts),
 * and the loss is reported at most once per endpoint. Returns which streams got through.
 */
async function afterCut(
  ctx: LinkCutContext,
  streams: readonly Stream[],
  arrived: ReadonlyMap<string, number>,
  cutRound: CutRoundPlan,
  errorsBefore: number,
  problems: string[],
): Promise<boolean[]> {
  const { wiring, host, waitMs } = ctx;
  const me = wiring.rank;
  const peer = 1 - me;
  const through = await probeThrough(streams, me, waitMs, cutRound.probeBase, problems);
  await wiring.sync(`link-cut-probed-${cutRound.round}`);
  for (const s of streams.filter((_, i) => through[i])) {
    const seq = (i: number) => cutRound.burstBase + i;
    const make = (i: number) => makeFragment(TEST, { sender: me, seq: seq(i), moduleIndex: s.moduleIndex }, BURST_SIZES[i % 4]!);
    const plan = { tag: tagOf(TEST), count: BURST, waitMs, make };
    await sendStream(s.module, s.endpoint, host, plan, (m) => problems.push(m));
  }
  // By module index, as the peer's reach lists them (a module without an endpoint here has no stream).
  const streamOf = (i: number) => streams.find((s) => s.moduleIndex === i);
  const byModule = <T>(of: (s: Stream) => T, none: T) => wiring.modules.map((_, i) => (streamOf(i) ? of(streamOf(i)!) : none));
  const ofRound = (seq: number) => (cutRound.round === 'cut' ? seq < IDLE_PROBE_BASE : seq >= IDLE_PROBE_BASE);
  const sent: Sent = {
    okSeqs: byModule((s) => [...s.watches].filter(([seq, w]) => ofRound(seq) && w.calls > 0 && !w.error).map(([seq]) => seq), []),
    lossReported: byModule((s) => host.errors.slice(errorsBefore).some((e) => e.endpoint === s.endpoint), false),
    through: byModule((s) => through[streams.indexOf(s)]!, false),
  };
  const theirs = (await wiring.wireup.exchange({ sent }, `kit-link-cut-sent-${cutRound.round}`))[peer]!.sent as Sent;
  problems.push(...(await missing(wiring, peer, theirs, arrived, waitMs, cutRound)));
  problems.push(...reports(host, errorsBefore, streams, peer));
  return through;
}

/**
 * The second cut: once everything had arrived, the connections the modules opened again are cut
 * while idle, and the links must carry on as after the first, delivering nothing twice. Skipped
 * where no link got through after the first cut (a module that does not reconnect), or the
 * modules hold no connection by then.
 */
async function idleCut(ctx: LinkCutContext, streams: readonly Stream[], arrived: ReadonlyMap<string, number>): Promise<string[]> {
  const { wiring, host, waitMs, cut } = ctx;
  const any = (await wiring.wireup.exchange({ any: streams.length > 0 }, 'kit-link-cut-again')).some((x) => x.any === true);
  if (!any) return [];
  // Counted from before the cut: a module may report the loss before the runner's answer is in.
  const errorsBefore = host.errors.length;
  cut.list('recut', ctx.socketsBefore, ctx.runtimeSockets());
  await wiring.sync('link-cut-relisted');
  const answer = wiring.rank === 0 ? await cut.request('recut', waitMs) : undefined;
  const shared = (await wiring.wireup.exchange({ answer: answer ?? null }, 'kit-link-cut-reanswer'))[0]!.answer as CutAnswer | null;
  if (!shared) return [`the kit's runner did not answer the request to cut again within ${waitMs} ms`];
  if (shared.unavailable || !shared.cut.length) return [];
  host.log(`link-cut: cut again ${shared.cut.join('; ')}`);
  const problems: string[] = [];
  await afterCut(ctx, streams, arrived, IDLE, errorsBefore, problems);
  const again = `${connections(shared.cut.length)} the modules opened again, idle, once everything sent had arrived`;
  const after = `after the kit cut ${again} (${shared.cut.join('; ')})`;
  return problems.map((p) => `${after}: ${p}`);
}

/** Sends to the stopped peer until `send` returns false, or CAP_BYTES went. */
function fill(s: Stream, me: number): void {
  const size = Math.min(s.module.maxSendSize, 64 * 1024);
  for (let seq = 0; seq < Math.ceil(CAP_BYTES / size); seq++) {
    const bytes = makeFragment(TEST, { sender: me, seq, moduleIndex: s.moduleIndex }, size);
    const sent = watchedSend((done) => s.module.send(s.endpoint, tagOf(TEST), segmentsOf(bytes, seq), done));
    s.watches.set(seq, sent.watch);
    if (sent.threw || sent.accepted === false) return;
  }
}

/** Every send issued before and during the cut runs its completion within waitMs (how often: completedTwice, at the end). */
async function completedOnce(streams: readonly Stream[], waitMs: number, problems: string[]): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (const s of streams) {
    const watches = [...s.watches.values()];
    await Promise.all(watches.map((w) => w.settled(Math.max(0, deadline - Date.now()))));
    const never = watches.filter((w) => w.calls === 0).length;
    const to = `sends to rank ${s.endpoint.rank}`;
    if (never) problems.push(`${never} of ${watches.length} ${to} pending at the cut never ran their completion within ${waitMs} ms`);
  }
}

/**
 * Completions run once, counted at the end of the rule: a module that sends a failed fragment
 * again once the link is back completes it a second time whenever the link returns, before the
 * probes or long after them.
 */
function completedTwice(streams: readonly Stream[]): string[] {
  const twice = streams.flatMap((s) => [...s.watches.values()].filter((w) => w.calls > 1).map((w) => ({ s, w })));
  if (!twice.length) return [];
  const failedFirst = twice.filter(({ w }) => w.error).length;
  const why = failedFirst
    ? ` (${failedFirst} of them first with an error: a fragment failed with done(error) belongs to the PML, which sends it again; ` +
      'the module must not)'
    : '';
  return [
    `${twice.length} send(s) to rank ${twice[0]!.s.endpoint.rank} ran their completion more than once${why}`,
  ];
}

/**
 * As the BML does with a link it keeps: a probe (a small send on the same endpoint) until one
 * completes without an error, every PROBE_EVERY_MS, for up to waitMs. A module that does not
 * reconnect after a loss fails every probe, which the guide allows (the BML then uses another
 * transport): that link is not used again here. A probe whose completion never runs is a failure.
 */
async function probeThrough(streams: readonly Stream[], me: number, waitMs: number, base: number, problems: string[]): Promise<boolean[]> {
  const through: boolean[] = [];
  for (const s of streams) {
    const deadline = Date.now() + waitMs;
    for (let k = 0; ; k++) {
      const seq = base + k;
      const bytes = makeFragment(TEST, { sender: me, seq, moduleIndex: s.moduleIndex }, 64);
      const sent = watchedSend((done) => s.module.send(s.endpoint, tagOf(TEST), segmentsOf(bytes, seq), done));
      s.watches.set(seq, sent.watch);
      if (sent.threw) problems.push(`a send to rank ${s.endpoint.rank} threw: ${sent.threw.message}`);
      else if (!(await sent.watch.settled(Math.max(0, deadline - Date.now()))))
        problems.push(`a send to rank ${s.endpoint.rank} (the BML's probe of the failed link) never completed within ${waitMs} ms`);
      else if (!sent.watch.error) {
        through.push(true);
        break;
      }
      if (sent.threw || !sent.watch.calls || Date.now() + PROBE_EVERY_MS > deadline) {
        through.push(false);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, PROBE_EVERY_MS));
    }
  }
  return through;
}

/** What the peer sent and saw go through that has not arrived here within waitMs. */
async function missing(
  wiring: Wiring,
  peer: number,
  theirs: Sent,
  arrived: ReadonlyMap<string, number>,
  waitMs: number,
  cutRound: CutRoundPlan,
): Promise<string[]> {
  const expected = wiring.reach[peer]!.flatMap((ranks, moduleIndex) => {
    if (!ranks.includes(wiring.rank)) return [];
    const burst = theirs.through[moduleIndex] ? Array.from({ length: BURST }, (_, i) => cutRound.burstBase + i) : [];
    // A link reported lost may lose what was in flight on it: the PML sends that again.
    const ok = theirs.okSeqs[moduleIndex]!;
    const through = theirs.lossReported[moduleIndex] ? ok.filter((s) => s >= cutRound.probeBase) : ok;
    return [...new Set([...through, ...burst])].map((seq) => ({ moduleIndex, seq }));
  });
  const absent = () => expected.filter((e) => !arrived.has(`${e.moduleIndex}:${e.seq}`));
  await until(() => absent().length === 0, waitMs);
  const left = absent();
  if (!left.length) return [];
  const named = left.slice(0, 6).map((e) => describe(e.seq)).join(', ');
  return [
    `${left.length} of ${expected.length} fragments rank ${peer} sent here (and saw complete) never arrived within ${waitMs} ms ` +
      `(${named}${left.length > 6 ? ', ...' : ''}): held or dropped after the cut`,
  ];
}

/** host.error after the cut: once per endpoint at most, never fatal, naming an endpoint addProcs returned. */
function reports(host: KitHost, from: number, streams: readonly Stream[], peer: number): string[] {
  const out: string[] = [];
  const events = host.errors.slice(from);
  const fatal = events.filter((e) => e.severity === 'fatal');
  if (fatal.length)
    out.push(`a fatal host.error was reported (${fatal[0]!.error?.message}): the BML would drop the module for every peer, for one link`);
  for (const s of streams) {
    const mine = events.filter((e) => e.severity === 'endpoint' && e.endpoint === s.endpoint).length;
    if (mine > 1) out.push(`${mine} host.error events with severity endpoint named the endpoint of rank ${peer} (one loss, reported once)`);
  }
  const foreign = events.filter((e) => e.endpoint && !host.endpoints.has(e.endpoint));
  if (foreign.length) out.push(`a host.error named an endpoint no addProcs returned (rank ${foreign[0]!.endpoint!.rank})`);
  return out;
}

function connections(count: number): string {
  return count === 1 ? 'the connection' : `${count} connections`;
}

function describe(seq: number): string {
  if (seq >= IDLE_BURST_BASE) return `${seq - IDLE_BURST_BASE} of those sent once a probe got through the second cut`;
  if (seq >= IDLE_PROBE_BASE) return `probe ${seq - IDLE_PROBE_BASE} after the second cut`;
  if (seq >= BURST_BASE) return `${seq - BURST_BASE} of those sent once a probe got through`;
  if (seq >= PROBE_BASE) return `probe ${seq - PROBE_BASE}`;
  return `${seq} of those pending at the cut`;
}
