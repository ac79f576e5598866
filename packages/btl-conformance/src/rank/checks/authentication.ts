import { setTimeout as sleep } from 'node:timers/promises';
import type { BtlEndpoint, BtlErrorEvent, BtlModule, BtlProc } from '@switchyard/btl-interface';
import { KitTest, makeFragment, tagOf } from '../fragments.js';
import type { Impostor } from '../impostor.js';
import { bounded, callLimitMs } from '../pending.js';
import { runRound, timeout } from '../round.js';
import type { TrafficContext } from './traffic.js';
import { notApplicable, verdictOf, type Verdict } from './verdict.js';

/** Fragments the impostor sends to each peer it reaches. */
const SENT_PER_PEER = 4;
/** How long a receiver keeps looking after every impostor's sends completed or gave up: a delivery is a matter of milliseconds. */
const SETTLE_MS = 500;

/** What a peer's module handed up of the impostor's fragments. */
interface Arrival {
  readonly from: number;
  readonly module: string;
}

export interface AuthenticationContext extends TrafficContext {
  readonly component: string;
  /** A second instance of the component in this process, with the job's id and rank and a wrong secret. */
  readonly impostor: () => Promise<Impostor>;
}

/**
 * authentication: every rank starts an impostor (see impostor.ts), adds its peers with their real
 * cards and sends a few fragments to each. The peers' modules must hand up none of them (each
 * receiver watches the impostor's tag), and keep carrying the legitimate modules' traffic after.
 * The impostor's sends may fail, complete or never connect: what counts is what arrives.
 */
export async function checkAuthentication(ctx: AuthenticationContext): Promise<Verdict> {
  const { wiring, host, waitMs, component } = ctx;
  // Both decided from what every rank knows alike (the job's reach, the component's modules): all ranks skip, or none.
  if (!wiring.reachesPeers()) return notApplicable(`no module of btl ${component} reaches another rank: no peer calls it`);
  if (!wiring.modules.some(acceptsConnections)) return notApplicable(sharedMemoryOnly(component));
  const v: string[] = [];
  // Why the kit could not call a peer at all: then the rule says so and is not applicable, since
  // a transport that cannot run twice in one process (a fixed socket path, say) breaks no rule.
  let unchecked: string | undefined;
  const errorsBefore = host.errors.length;
  const arrivals: Arrival[] = [];
  host.sink(tagOf(KitTest.IMPOSTOR), (from, _data, endpoint) => arrivals.push({ from, module: endpoint.module.name }));
  let impostor: Impostor | undefined;
  try {
    impostor = await bounded(`init() of a second instance of btl ${component} (a wrong secret)`, ctx.impostor(), callLimitMs(waitMs));
    const peers = wiring.procs.filter((p) => p.rank !== wiring.rank);
    const sends = await sendFromImpostor(impostor.modules.filter(acceptsConnections), peers, wiring.rank, waitMs);
    host.log(`authentication: rank ${wiring.rank}'s impostor ${sends}`);
    if (!sends.reached) unchecked = nobodyReached(component);
  } catch (error) {
    unchecked = `the kit could not set up an impostor (a second instance of btl ${component} in this process, with a wrong ` +
      `secret): ${(error as Error).message}; so it could not call a peer without the secret`;
  }
  // Every rank's impostor has sent (or given up) before any receiver stops looking.
  await wiring.sync('authentication-sent');
  await sleep(SETTLE_MS);
  await wiring.sync('authentication-settled');
  host.sink(tagOf(KitTest.IMPOSTOR), undefined);
  v.push(...describeArrivals(arrivals, component));
  // Handed up on an endpoint no addProcs returned (one the module made for the caller): arrived all the same.
  v.push(...host.takeStrays().map((s) => `while an impostor with a wrong secret called: ${s}`));
  if (impostor) v.push(...(await releaseImpostor(impostor.modules, waitMs)));
  await wiring.sync('authentication-impostor-gone');
  v.push(...host.errors.slice(errorsBefore).map(reportedForImpostor));
  // The legitimate modules must not have lost their links to the impostor's attempt.
  const after = await runRound(wiring, host, 'after-impostor', { test: KitTest.AFTER_IMPOSTOR, sizes: () => [64, 1500], waitMs });
  v.push(...after.violations.map((p) => `after an impostor with a wrong secret called (the legitimate modules' traffic): ${p}`));
  if (unchecked && !v.length) return notApplicable(unchecked);
  return verdictOf(v);
}

/**
 * A module that offers `progress()` declares that its arrivals are in memory it shares with its
 * peers (the contract keeps `progress()` for arrivals seen without the event loop, and rule
 * 'progress' holds it to that): a peer writes there with the operating system's leave, and no
 * connection comes to the module for a secret to authenticate. Every other module takes what
 * peers send over connections (or datagrams) someone dialled: those must prove the secret.
 */
function acceptsConnections(module: BtlModule): boolean {
  return typeof module.progress !== 'function';
}

function nobodyReached(component: string): string {
  return `the impostor (a second instance of btl ${component} in this process, with a wrong secret) got no endpoint from addProcs ` +
    `for any peer, given the cards the real modules reach them with: the kit could not call a peer, so it cannot tell whether the ` +
    `module checks the secret`;
}

function sharedMemoryOnly(component: string): string {
  return `every module of btl ${component} offers progress(), which declares that its arrivals are in memory it shares with its ` +
    `peers, not on connections it accepts: the operating system decides who may write there, and the job's secret has nothing ` +
    `to authenticate (a module that also accepts connections must check the secret on them; see the kit README's 'authentication')`;
}

/** How the impostor's attempt went on this rank: the log says it, and an attempt that reached nobody proved nothing. */
class ImpostorSends {
  reached = 0;
  unconnected = 0;
  completed = 0;
  failed = 0;
  pending = 0;

  toString(): string {
    return `reached ${this.reached} peer endpoint(s), ${this.unconnected} of them never connected; ${this.completed} send(s) ` +
      `completed, ${this.failed} failed, ${this.pending} still pending`;
  }
}

/** Adds `procs` to every impostor module and sends to each endpoint it returns, once connected. */
async function sendFromImpostor(
  modules: readonly BtlModule[],
  procs: readonly BtlProc[],
  rank: number,
  waitMs: number,
): Promise<ImpostorSends> {
  const sends = new ImpostorSends();
  const completions: Array<Promise<void>> = [];
  const sendTo = (module: BtlModule, endpoint: BtlEndpoint) => {
    for (let seq = 0; seq < SENT_PER_PEER; seq++) {
      sends.pending += 1;
      const fragment = makeFragment(KitTest.IMPOSTOR, { sender: rank, seq, moduleIndex: 0 }, 64);
      completions.push(new Promise((resolve) => {
        const done = (error?: Error) => {
          sends.pending -= 1;
          if (error) sends.failed += 1;
          else sends.completed += 1;
          resolve();
        };
        try {
          module.send(endpoint, tagOf(KitTest.IMPOSTOR), [fragment], done);
        } catch (error) {
          done(error as Error);
        }
      }));
    }
  };
  for (const module of modules) {
    const endpoints = (await bounded(`the impostor's addProcs()`, module.addProcs(procs), callLimitMs(waitMs))) ?? [];
    const reached = endpoints.filter((e): e is BtlEndpoint => !!e);
    sends.reached += reached.length;
    // Each link's connected() at once: one waitMs in all, not one per peer.
    await Promise.all(reached.map(async (endpoint) => {
      if (await linkUp(module, endpoint, waitMs)) sendTo(module, endpoint);
      else sends.unconnected += 1;
    }));
  }
  // A send that never completes (queued on a link that never comes up) is fine: the impostor's finalize fails it.
  const wait = timeout(waitMs);
  await Promise.race([Promise.all(completions), wait.promise]);
  wait.cancel();
  return sends;
}

/** As the BML: no sends on an endpoint until `connected()` resolved; one that does not within waitMs stays unconnected. */
async function linkUp(module: BtlModule, endpoint: BtlEndpoint, waitMs: number): Promise<boolean> {
  if (typeof module.connected !== 'function') return true;
  return bounded('connected()', Promise.resolve(module.connected(endpoint)), waitMs).then(() => true, () => false);
}

function describeArrivals(arrivals: readonly Arrival[], component: string): string[] {
  const bySender = new Map<string, number>();
  for (const a of arrivals) bySender.set(`${a.from}|${a.module}`, (bySender.get(`${a.from}|${a.module}`) ?? 0) + 1);
  return [...bySender].map(([key, count]) => {
    const [from, module] = key.split('|');
    return `'${module}' handed up ${count} fragment(s), on rank ${from}'s endpoint, sent by a second instance of btl ` +
      `${component} in rank ${from}'s process that was given the job's id and rank but a wrong secret: a module must check the ` +
      `job's secret on every connection it accepts, and close one that does not prove it (see the kit README's 'authentication')`;
  });
}

/** A refused caller is no news for the BML: an error reported for it would take a healthy peer's link (or the module) out of use. */
function reportedForImpostor(event: BtlErrorEvent): string {
  const whose = event.endpoint ? `rank ${event.endpoint.rank}'s endpoint` : 'the whole module';
  return `'${event.module.name}' reported a ${event.severity} error for ${whose} (${event.error?.message}) while only an impostor ` +
    `with a wrong secret had called and gone: refusing a caller must not cost the real peer its link`;
}

/** Finalize of the impostor's modules, bounded: a finalize that hangs is the component's bug too. */
async function releaseImpostor(modules: readonly BtlModule[], waitMs: number): Promise<string[]> {
  const problems: string[] = [];
  for (const module of modules) {
    try {
      await bounded(`finalize() of the impostor's module '${module.name}'`, module.finalize(), callLimitMs(waitMs));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  return problems;
}
