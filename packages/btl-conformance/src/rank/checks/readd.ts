import { BtlFlag, type BtlEndpoint, type BtlModule } from '@switchyard/btl-interface';
import { sendLedger } from '../send-ledger.js';
import { KitTest, makeFragment, readFragment, tagOf } from '../fragments.js';
import { bounded, callLimitMs, PendingCallError } from '../pending.js';
import { timeout, until } from '../round.js';
import { Wiring, type EndpointMap } from '../wiring.js';
import { watchedSend } from './completion.js';
import { keptEndpointUndisturbed } from './delprocs-others.js';
import { idlePeersDeleted } from './idle-delprocs.js';
import { refusalsLeaveWindow } from './refusal-credits.js';
import { refusalErrorProblems } from './refusal-errors.js';
import type { TrafficContext } from './traffic.js';
import { verdictOf, type Verdict } from './verdict.js';

/**
 * A send the module must refuse: it completes with an error, asynchronously, once, and nothing
 * arrives. It returns true, or `writable` follows: the BML reads false as back-pressure and sends
 * nothing more to that endpoint until `writable`, so a refusal that returns false stalls the peer.
 */
async function mustRefuse(what: string, module: BtlModule, endpoint: BtlEndpoint, tag: number, data: Uint8Array,
  { host, waitMs }: Pick<TrafficContext, 'host' | 'waitMs'>) {
  const sent = watchedSend((done) => module.send(endpoint, tag, [data], done));
  if (sent.threw) return `${what}: send threw (${sent.threw.message}) instead of completing with an error`;
  const writable = sent.accepted === false ? host.whenWritable(endpoint, () => {}, waitMs) : undefined;
  if (!(await sent.watch.settled(waitMs))) return `${what}: the send's completion never ran (within ${waitMs} ms)`;
  if (!sent.watch.error) return `${what}: the send completed without an error (it must be refused: done(error), nothing sent)`;
  if (sent.watch.ranInsideSend)
    return `${what}: done(error) ran inside send() (defer a refusal, e.g. process.nextTick: a caller must not see its failure ` +
      `inside its own send call)`;
  if (writable && !(await writable))
    return `${what}: send returned false and host.writable did not follow within ${waitMs} ms (the BML would wait for it and ` +
      `send nothing more to rank ${endpoint.rank} on this module: return true for a refused send)`;
  return undefined;
}

/**
 * flush() of an endpoint delProcs deleted has nothing left to wait for: it resolves, neither
 * rejects nor hangs (the BML flushes what it is taking down; every operation must complete).
 */
async function flushDeleted(module: BtlModule, endpoint: BtlEndpoint, waitMs: number): Promise<string | undefined> {
  const what = `'${module.name}': flush(endpoint of rank ${endpoint.rank}) after delProcs deleted it`;
  try {
    await bounded(what, Promise.resolve().then(() => module.flush(endpoint)), callLimitMs(waitMs));
    return undefined;
  } catch (error) {
    if (error instanceof PendingCallError) return `${error.message}${sendLedger.flushNote(module, endpoint)}`;
    return `${what} rejected (${(error as Error)?.message}); it must resolve: nothing of that endpoint is left to wait for`;
  }
}

/**
 * refusals: a tag above 255, a fragment of maxSendSize + 1 bytes, and a send on an endpoint
 * delProcs deleted (its peer still up) are refused through done(error), and nothing arrives.
 * Leaves every endpoint deleted: `readd` adds the peers again.
 */
export async function checkRefusals(
  { wiring, host, waitMs }: TrafficContext,
  perPeerLeft: () => Promise<Map<string, number>> = async () => new Map(),
): Promise<Verdict> {
  const v: string[] = [];
  const arrived: string[] = [];
  host.sink(tagOf(KitTest.REFUSED), (from, data) =>
    arrived.push(`a ${data.length}-byte fragment rank ${from} had to refuse (tag 256, over maxSendSize, or after delProcs) arrived here`),
  );
  await wiring.sync('refusals-start');
  const errorsAtRefusals = host.errors.length;
  // Every rank's tag refusals before any oversize one: a link error after the latter only names the size check.
  for (const [i, module] of wiring.modules.entries()) {
    for (const [peer, endpoint] of wiring.endpoints[i]!) {
      const p = await mustRefuse(`'${module.name}' to rank ${peer}: a fragment with tag 256 (tags are 8 bits)`, module, endpoint, 256,
        makeFragment(KitTest.REFUSED, { sender: wiring.rank, seq: 1, moduleIndex: i }, 64), { host, waitMs });
      if (p) v.push(p);
    }
  }
  await wiring.sync('refusals-tags');
  const errorsAfterTags = host.errors.length;
  for (const [i, module] of wiring.modules.entries()) {
    for (const [peer, endpoint] of wiring.endpoints[i]!) {
      const over = makeFragment(KitTest.REFUSED, { sender: wiring.rank, seq: 0, moduleIndex: i }, module.maxSendSize + 1);
      const p = await mustRefuse(`'${module.name}' to rank ${peer}: a fragment of maxSendSize + 1 (${module.maxSendSize + 1}) bytes`,
        module, endpoint, tagOf(KitTest.REFUSED), over, { host, waitMs });
      if (p) v.push(p);
    }
    await bounded(`flush() on '${module.name}'`, module.flush(), callLimitMs(waitMs)).catch((error: unknown) => {
      throw error instanceof PendingCallError ? new PendingCallError(`${error.message}${sendLedger.flushNote(module)}`) : error;
    });
  }
  v.push(...(await refusalsLeaveWindow({ wiring, host, waitMs })));
  await wiring.sync('refusals-sent');
  v.push(...refusalErrorProblems(host.errors, errorsAtRefusals, errorsAfterTags));
  const errorsBefore = host.errors.length;
  const deleted = new Set<BtlEndpoint>();
  for (const [i, module] of wiring.modules.entries()) {
    const endpoints = [...wiring.endpoints[i]!.values()];
    endpoints.forEach((endpoint) => deleted.add(endpoint));
    // The peers first, the rank's own endpoint last: deleting some must not disturb the others.
    const own = wiring.endpoints[i]!.get(wiring.rank);
    const peers = endpoints.filter((endpoint) => endpoint !== own);
    if (own && peers.length) v.push(...(await keptEndpointUndisturbed({ wiring, host, waitMs }, i, own, peers)));
    await bounded(`delProcs() on '${module.name}'`, wiring.delEndpoints(i, endpoints), callLimitMs(waitMs));
    for (const endpoint of endpoints) {
      const data = makeFragment(KitTest.REFUSED, { sender: wiring.rank, seq: 2, moduleIndex: i }, 64);
      const p = await mustRefuse(`'${module.name}': a fragment to rank ${endpoint.rank} on the endpoint delProcs deleted (the peer is up)`,
        module, endpoint, tagOf(KitTest.REFUSED), data, { host, waitMs });
      if (p) v.push(p);
      const flushed = await flushDeleted(module, endpoint, waitMs);
      if (flushed) v.push(flushed);
    }
  }
  await wiring.sync('refusals-deleted');
  // Every peer was deleted on both sides: what the module made for one (a connection, a timer) must be gone by now.
  const left = await perPeerLeft();
  const listed = (timers: boolean) => [...left].filter(([type]) => (type === 'Timeout') === timers).map(([type, n]) => `${n} ${type}`);
  if (listed(false).length)
    v.push(`after delProcs of every peer (on both sides), connections still open: ${listed(false).join(', ')} (opened since the module ` +
      `was loaded; a deleted peer's link must be closed)`);
  if (listed(true).length)
    v.push(`after delProcs of every peer (on both sides), timers still pending: ${listed(true).join(', ')} (set since the module was ` +
      `wired up; a deleted peer's keep-alive or retry timer must stop at its delProcs)`);
  // A peer leaving after delProcs is no error (docs/writing-a-btl.md, section 10): the BML would
  // fail over a link it had just taken down in order.
  for (const event of host.errors.slice(errorsBefore).filter((e) => e.endpoint && deleted.has(e.endpoint)).slice(0, 2))
    v.push(`host.error (${event.severity}: ${event.error?.message}) named rank ${event.endpoint!.rank}'s endpoint after delProcs had ` +
      `deleted it; a deleted peer's link closing is no error`);
  v.push(...(await idlePeersDeleted({ wiring, waitMs })));
  await wiring.sync('refusals-closed');
  return verdictOf([...v.slice(0, 8), ...arrived.slice(0, 4), ...host.takeStrays()]);
}

// Some 300 KB before the late rank's addProcs: a module that holds only so much (and drops the
// rest) is caught; one that stops reading until addProcs (the kernel holds the rest) passes.
const EARLY_SIZES = [64, 1000, 8192, 65_536, 65_536, 65_536, 65_536, 64];

/**
 * early-arrival: after every endpoint was deleted, the peers are added again at different
 * times: even ranks first, and they send at once; odd ranks call addProcs only after that. A
 * fragment (or connection) that arrives before addProcs knows its sender must be held, then
 * handed over once it does: never dropped, refused, or handed over on no endpoint. The new
 * endpoints then carry the rest of the job's checks.
 */
export async function readd(ctx: TrafficContext, component: string, holdMs: number): Promise<{ wiring: Wiring; verdict: Verdict }> {
  const { wiring: old, host, waitMs } = ctx;
  const v: string[] = [];
  const early = old.rank % 2 === 0;
  // What the early side waits for (a completion, connected()) may wait for the late side's
  // addProcs, which comes holdMs after the early sends: its clock gets that hold on top.
  const untilLateAddedMs = early ? holdMs + waitMs : waitMs;
  const seen = new Map<number, Set<number>>();
  const last = new Map<number, number>();
  const ordered = (i: number) => ((old.modules[i]?.flags ?? 0) & BtlFlag.ORDERED) !== 0;
  let count = 0;
  host.sink(tagOf(KitTest.EARLY), (from, data) => {
    const id = readFragment(KitTest.EARLY, data);
    if (typeof id === 'string') return void v.push(`from rank ${from}: ${id}`);
    const key = id.sender * 64 + id.moduleIndex;
    const got = seen.get(key) ?? new Set();
    seen.set(key, got);
    if (got.has(id.seq)) v.push(`fragment ${id.seq} from rank ${id.sender} arrived twice`);
    // Held ones first, in the order they came: an ORDERED module must not let later ones overtake them.
    else if (ordered(id.moduleIndex) && (last.get(key) ?? -1) > id.seq)
      v.push(`fragment ${id.seq} from rank ${id.sender} arrived after fragment ${last.get(key)}, though the module is flagged ORDERED`);
    got.add(id.seq);
    last.set(key, Math.max(id.seq, last.get(key) ?? -1));
    count += 1;
  });
  const refusedLate: string[] = [];
  host.sink(tagOf(KitTest.REFUSED), (from) =>
    refusedLate.push(`a fragment rank ${from} sent on an endpoint its delProcs had deleted was delivered once this rank added it again`),
  );
  const sent = new Set<string>();
  const pending: Array<Promise<void>> = [];
  const sendTo = (modules: readonly BtlModule[], i: number, peer: number, endpoint: BtlEndpoint) => {
    sent.add(`${i}/${peer}`);
    const module = modules[i]!;
    EARLY_SIZES.forEach((size, seq) => {
      const bytes = makeFragment(KitTest.EARLY, { sender: old.rank, seq, moduleIndex: i }, Math.min(size, module.maxSendSize));
      const s = watchedSend((done) => module.send(endpoint, tagOf(KitTest.EARLY), [bytes], done));
      if (s.threw) v.push(`send to rank ${peer} threw: ${s.threw.message}`);
      else pending.push(s.watch.settled(untilLateAddedMs).then((ok) => {
        if (!ok) v.push(`a send to rank ${peer} after the re-add never completed (within ${untilLateAddedMs} ms)`);
        else if (s.watch.error) v.push(`a send to rank ${peer} after the re-add failed: ${s.watch.error.message}`);
      }));
    });
  };
  const modules = old.modules;
  const wiring = await Wiring.wire(old.wireup, host, component, modules, 'readd', untilLateAddedMs, {
    refresh: true,
    ...(early
      ? {
          afterAdd: async (endpoints: readonly EndpointMap[]) => {
          // The BML sends only once connected() resolved: a link that waits for the late peer goes later.
            await Promise.all(endpoints.flatMap((map, i) => [...map].map(async ([peer, endpoint]) => {
              const module = modules[i]!;
              if (module.connected) {
                const grace = timeout(Math.min(waitMs, 1000));
                const up = await Promise.race([Promise.resolve(module.connected(endpoint)).then(() => true, () => false), grace.promise]);
                grace.cancel();
                if (!up) return;
              }
              sendTo(modules, i, peer, endpoint);
            })));
            // Completions may wait for the late peer: give the bytes a moment to reach it, no more.
            const moment = timeout(Math.min(waitMs, 500));
            await Promise.race([Promise.all(pending), moment.promise]);
            moment.cancel();
            await old.sync('early-sent');
          },
        }
      : {
          beforeAdd: async () => {
            await old.sync('early-sent');
            // Long enough for a hold with an expiry (a negotiation "timing out") to expire: held
            // fragments wait for addProcs however late it comes. It also lets the module take the
            // peers' connections (accept, read) before its addProcs, so they really come first.
            await new Promise((resolve) => setTimeout(resolve, holdMs));
          },
        }),
  });
  v.push(...wiring.connectProblems.map((p) => `after delProcs and addProcs again: ${p}`));
  wiring.modules.forEach((_, i) => {
    for (const [peer, endpoint] of wiring.endpoints[i]!) if (!sent.has(`${i}/${peer}`)) sendTo(modules, i, peer, endpoint);
  });
  await Promise.all(pending);
  const expected = wiring.senders().length * EARLY_SIZES.length;
  if (!(await until(() => count >= expected, waitMs))) {
    const missing = wiring.senders().filter((s) => (seen.get(s.rank * 64 + s.moduleIndex)?.size ?? 0) < EARLY_SIZES.length);
    v.push(
      `after ${waitMs} ms, ${expected - count} of ${expected} fragments sent once the peers were added again had not arrived (from ` +
        `rank(s) ${[...new Set(missing.map((s) => s.rank))].join(', ')}; ${early ? 'this rank added its peers first' :
        `the even ranks added this rank and sent ${holdMs} ms before this rank's addProcs: their fragments must be held (for as long as ` +
        `addProcs takes to come), then handed over`})`,
    );
  }
  await wiring.sync('readd-end');
  host.sink(tagOf(KitTest.EARLY), undefined);
  host.sink(tagOf(KitTest.REFUSED), undefined);
  return { wiring, verdict: verdictOf([...v.slice(0, 8), ...refusedLate.slice(0, 2), ...host.takeStrays()]) };
}
