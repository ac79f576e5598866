import { BtlFlag, type BtlEndpoint, type BtlModule } from '@switchyard/btl-interface';
import { makeFragment, readFragment, segmentsOf, tagOf } from './fragments.js';
import { HandedOver } from './handed-over.js';
import { stallWatch } from './stall-watch.js';
import type { KitHost } from './kit-host.js';
import type { Wiring } from './wiring.js';

export interface RoundOptions {
  readonly test: number;
  /**
   * The sizes of the fragments `sender` sends to `peer` over its module `moduleIndex` (the same
   * function on every rank: the sender and the receiver both ask it).
   */
  readonly sizes: (peer: number, moduleIndex: number, sender: number) => readonly number[];
  /** Check that fragments from one sender's ORDERED module arrive in the order sent. */
  readonly checkOrder?: boolean;
  /**
   * A second test whose tag every third fragment goes on (its bytes still the first test's):
   * ORDERED is one order for all of an endpoint's fragments, whatever their tags, as the PML's
   * data and the BML's markers share a link.
   */
  readonly alsoOn?: number;
  /** Runs for each fragment received, before it is checked (a slow receiver blocks here). */
  readonly onReceive?: () => void;
  /** Runs once, as the round starts on this rank (a stalled receiver blocks here). */
  readonly beforeSend?: () => void | Promise<void>;
  /** Runs once this rank's first synchronous run of sends ended: all it sent before any wait for `writable`. */
  readonly afterHandOver?: () => void;
  /** The longest the round may take (a long stream on a slow machine). */
  readonly waitMs: number;
  /** With it, the round also ends once nothing arrived for this long: a lost fragment fails it then, not at `waitMs`. */
  readonly stallMs?: number;
  /** Offer fragments to the module's `sendi` first (see SendPlan.immediate). */
  readonly immediate?: Immediate;
}

/**
 * `interleaved`: every other fragment is offered to `sendi`, in the same synchronous run as the
 * `send`s around it (what it takes must not overtake what `send` still holds); `alone`: every
 * fragment is offered on a turn of its own, once everything sent before it has completed (an
 * idle link, where `sendi` can take any size).
 */
export type Immediate = 'interleaved' | 'alone';

export interface RoundResult {
  readonly violations: string[];
  /** Times `send` returned false (the module asked the kit to wait). */
  readonly refusals: number;
  readonly fragments: number;
  /** Fragments the module's `sendi` took (with `immediate`). */
  readonly immediate: number;
}

interface Stream {
  readonly rank: number;
  readonly moduleIndex: number;
  /** Fragments that must arrive: planned, or fewer once the sender says it handed over only so many. */
  expected: number;
  readonly seen: Set<number>;
  last: number;
}

/**
 * One exchange of the kit's fragments: every rank sends the planned fragments to every endpoint
 * of every module (waiting for `writable` whenever `send` returns false, scribbling over each
 * fragment's bytes as soon as its completion runs), and checks everything it receives: whole,
 * intact, once, on the endpoint of the rank that sent it, and in order when asked. Then waits
 * for the other ranks.
 */
export async function runRound(wiring: Wiring, host: KitHost, name: string, options: RoundOptions): Promise<RoundResult> {
  const violations: string[] = [];
  const note = (message: string) => {
    if (violations.length < 12) violations.push(message);
  };
  const streams = new Map<string, Stream>();
  for (const s of wiring.senders()) {
    const sizes = options.sizes(wiring.rank, s.moduleIndex, s.rank);
    streams.set(`${s.rank}/${s.moduleIndex}`, { ...s, expected: sizes.length, seen: new Set(), last: -1 });
  }
  // Every rank runs the same component, so module i's flags are the same on the sending side.
  const orderedBy = (moduleIndex: number) => ((wiring.modules[moduleIndex]?.flags ?? 0) & BtlFlag.ORDERED) !== 0;
  let complete: () => void = () => {};
  const allArrived = new Promise<void>((resolve) => (complete = resolve));
  const check = () => {
    if ([...streams.values()].every((s) => s.seen.size >= s.expected)) complete();
  };
  let acrossTags = false;
  let lastArrival = Date.now();
  let arrived = false;
  void allArrived.then(() => (arrived = true));
  const receive = (from: number, data: Uint8Array) => {
    lastArrival = Date.now();
    options.onReceive?.();
    const id = readFragment(options.test, data);
    if (typeof id === 'string') return note(`from rank ${from}: ${id}`);
    if (id.sender !== from) return note(`fragment ${id.seq} sent by rank ${id.sender} arrived on the endpoint of rank ${from}`);
    const stream = streams.get(`${id.sender}/${id.moduleIndex}`);
    if (!stream)
      return note(
        `fragment ${id.seq} from rank ${id.sender} (module ${id.moduleIndex}) arrived, but that module has no endpoint for this rank`,
      );
    if (stream.seen.has(id.seq)) return note(`fragment ${id.seq} from rank ${id.sender} arrived twice`);
    if (options.checkOrder && orderedBy(id.moduleIndex) && id.seq < stream.last) {
      // The tags' hint only helps where the two fragments went on different tags.
      const onTag = (seq: number) => (seq % 3 === 2 ? 'also' : 'test');
      if (options.alsoOn !== undefined && onTag(id.seq) !== onTag(stream.last)) acrossTags = true;
      note(`fragment ${id.seq} from rank ${id.sender} arrived after fragment ${stream.last}, though the module is flagged ORDERED`);
    }
    stream.last = Math.max(stream.last, id.seq);
    stream.seen.add(id.seq);
    check();
  };
  const tags = options.alsoOn === undefined ? [tagOf(options.test)] : [tagOf(options.test), tagOf(options.alsoOn)];
  for (const tag of tags) host.sink(tag, receive);
  check();
  await wiring.sync(`${name}-start`);
  await options.beforeSend?.();
  let refusals = 0;
  let fragments = 0;
  let immediate = 0;
  const handed = new HandedOver();
  const sends = wiring.modules.flatMap((module, moduleIndex) =>
    [...wiring.endpoints[moduleIndex]!.entries()].map(async ([peer, endpoint]) => {
      const sizes = options.sizes(peer, moduleIndex, wiring.rank);
      const make = (seq: number) => makeFragment(options.test, { sender: wiring.rank, seq, moduleIndex }, sizes[seq]!);
      const also = options.alsoOn;
      const tagFor = also === undefined ? undefined : (seq: number) => tagOf(seq % 3 === 2 ? also : options.test);
      const stream = { tag: tagOf(options.test), tagFor, count: sizes.length, make, waitMs: options.waitMs, immediate: options.immediate };
      const result = await sendStream(module, endpoint, host, stream, note);
      refusals += result.refusals;
      fragments += result.sent;
      immediate += result.immediate;
      handed.add(peer, moduleIndex, result.sent - result.failed);
    }),
  );
  options.afterHandOver?.();
  const started = Date.now();
  // The stall watch starts now: the time this rank spent meeting the others, stopped or sending is no silence of its peers.
  lastArrival = started;
  const stallMs = options.stallMs;
  const watch = stallMs === undefined ? undefined : stallWatch(options.waitMs, () => !arrived && Date.now() - lastArrival > stallMs);
  const deadline = watch ?? timeout(options.waitMs);
  const sent = Promise.all(sends);
  // A sender that stopped short has said why: its receivers then wait only for what it handed over.
  const handedOver = sent.catch(() => {}).then(() => handed.exchange(wiring, name)).then((count) => {
    for (const s of streams.values()) s.expected = Math.min(s.expected, count(s.rank, s.moduleIndex) ?? s.expected);
    check();
  });
  const finished = await Promise.race([Promise.all([sent, allArrived]).then(() => true), deadline.promise]);
  deadline.cancel();
  if (!finished) {
    const elapsed = Date.now() - started;
    // Ended by a stall only where one is watched for; the full wait can end a millisecond early by the clock.
    const when =
      stallMs !== undefined && elapsed < options.waitMs
        ? `after ${elapsed} ms (nothing arrived in the last ${stallMs} ms)`
        : `after ${options.waitMs} ms`;
    for (const s of streams.values()) {
      if (s.seen.size >= s.expected) continue;
      const missing = [];
      for (let seq = 0; seq < s.expected && missing.length < 8; seq++) if (!s.seen.has(seq)) missing.push(seq);
      note(
        `${when}, ${s.expected - s.seen.size} of ${s.expected} fragments from rank ${s.rank} had not arrived (missing ` +
          `${missing.join(', ')}${s.expected - s.seen.size > missing.length ? ', ...' : ''})`,
      );
    }
    const held = watch?.longestHoldMs() ?? 0;
    if (held > 0) {
      note(`this rank's event loop was held for ${held} ms at once during the round (code that runs that long without returning, ` +
        `a module's callbacks among it, leaves every socket of the rank unread meanwhile)`);
    }
  }
  await sent.catch(() => {});
  await handedOver;
  for (const tag of tags) host.sink(tag, undefined);
  for (const stray of host.takeStrays()) note(stray);
  if (acrossTags && options.alsoOn !== undefined) {
    violations.push(
      `every third fragment went on tag ${tagOf(options.alsoOn)}, the others on ${tagOf(options.test)}: ` +
        'ORDERED is one order for everything sent to an endpoint, whatever the tags',
    );
  }
  await wiring.sync(`${name}-end`);
  return { violations, refusals, fragments, immediate };
}

export interface StreamResult {
  readonly refusals: number;
  /** Fragments handed to the module (`send` or `sendi` took them, without a throw). */
  readonly sent: number;
  readonly immediate: number;
  /** Of those, the ones whose completion reported an error. */
  readonly failed: number;
}

/** The fragments one rank sends to one endpoint: `count` of them on `tag`, each made when its turn comes. */
export interface SendPlan {
  readonly tag: number;
  /** The tag of fragment `seq`, where not all go on `tag`. */
  readonly tagFor?: (seq: number) => number;
  readonly count: number;
  make(seq: number): Uint8Array;
  readonly waitMs: number;
  /**
   * Fragments go to the module's `sendi` first (see Immediate); one it takes is scribbled over
   * as soon as `sendi` returns (the module must have copied it) and must run no completion.
   */
  readonly immediate?: Immediate;
}

/**
 * Sends one planned stream to one endpoint, honouring back-pressure as the PML does: after `send`
 * returned false it sends again only from inside `host.writable(endpoint)`. Checks each completion.
 */
export async function sendStream(
  module: BtlModule,
  endpoint: BtlEndpoint,
  host: KitHost,
  plan: SendPlan,
  note: (message: string) => void,
): Promise<StreamResult> {
  if (plan.immediate === 'alone') return sendAlone(module, endpoint, host, plan, note);
  let refusals = 0;
  let immediate = 0;
  let failed = 0;
  let pending = 0;
  let seq = 0;
  let threw = false;
  let settled: () => void = () => {};
  const allDone = new Promise<void>((resolve) => (settled = resolve));
  /** Set while send returned false: resolves once the pump ran inside writable(), false after waitMs. */
  let blocked: Promise<boolean> | undefined;
  let blockedAt = -1;
  /** Sends until `send` returns false (then waits for writable, registered at once) or the stream ends. */
  const pump = (): void => {
    blocked = undefined;
    while (seq < plan.count) {
      const mine = seq++;
      const bytes = plan.make(mine);
      if (plan.immediate === 'interleaved' && mine % 2 === 0) {
        const taken = sendImmediately(module, endpoint, plan.tagFor?.(mine) ?? plan.tag, bytes, mine, note);
        if (taken === undefined) {
          threw = true;
          return;
        }
        if (taken) {
          immediate += 1;
          continue;
        }
      }
      let completions = 0;
      pending += 1;
      let accepted: boolean;
      try {
        accepted = module.send(endpoint, plan.tagFor?.(mine) ?? plan.tag, segmentsOf(bytes, mine), (error) => {
          completions += 1;
          if (completions > 1) return note(`the completion of fragment ${mine} to rank ${endpoint.rank} ran ${completions} times`);
          if (error) {
            failed += 1;
            note(`fragment ${mine} (${bytes.length} bytes) to rank ${endpoint.rank} completed with an error: ${error.message}`);
          }
          // The caller may reuse its buffers now: a module still reading them sends garbage.
          bytes.fill(0xee);
          if (--pending === 0) settled();
        });
      } catch (error) {
        note(`send of fragment ${mine} to rank ${endpoint.rank} threw: ${(error as Error).message}`);
        threw = true;
        return;
      }
      if (accepted === false) {
        refusals += 1;
        blockedAt = mine;
        blocked = host.whenWritable(endpoint, pump, plan.waitMs);
        return;
      }
      if (accepted !== true) note(`send returned ${String(accepted)} instead of a boolean`);
    }
  };
  pump();
  while (blocked) {
    if (!(await blocked)) {
      note(
        `send returned false at fragment ${blockedAt} to rank ${endpoint.rank}, and host.writable for that endpoint did not follow ` +
          `within ${plan.waitMs} ms${refusals > 1 ? ' (the kit sends again from inside writable(), as the PML does)' : ''}`,
      );
      return { refusals, sent: seq, immediate, failed };
    }
  }
  if (threw) return { refusals, sent: seq - 1, immediate, failed };
  if (pending > 0) {
    const wait = timeout(plan.waitMs);
    const ok = await Promise.race([allDone.then(() => true), wait.promise]);
    wait.cancel();
    if (!ok) note(`after ${plan.waitMs} ms, ${pending} of ${plan.count} sends to rank ${endpoint.rank} had not run their completion`);
  }
  return { refusals, sent: plan.count, immediate, failed };
}

/**
 * The `alone` plan: each fragment offered to `sendi` on a turn of its own, once every earlier
 * one has gone; one it declines goes by `send`, and the next waits for its completion (and for
 * `writable` after a false).
 */
const sendAlone: typeof sendStream = async (module, endpoint, host, plan, note) => {
  let refusals = 0;
  let immediate = 0;
  let failed = 0;
  for (let seq = 0; seq < plan.count; seq++) {
    await new Promise((resolve) => setImmediate(resolve));
    const bytes = plan.make(seq);
    const tag = plan.tagFor?.(seq) ?? plan.tag;
    const taken = sendImmediately(module, endpoint, tag, bytes, seq, note);
    if (taken === undefined) return { refusals, sent: seq, immediate, failed };
    if (taken) {
      immediate += 1;
      continue;
    }
    /** Registered as `send` returns false: its `writable` may come before the completion. */
    let writable: Promise<boolean> | undefined;
    const wait = timeout(plan.waitMs);
    const completed = new Promise<boolean>((resolve) => {
      try {
        const accepted = module.send(endpoint, tag, segmentsOf(bytes, seq), (error) => {
          if (error) {
            failed += 1;
            note(`fragment ${seq} (${bytes.length} bytes) to rank ${endpoint.rank} completed with an error: ${error.message}`);
          }
          bytes.fill(0xee);
          resolve(true);
        });
        if (accepted === false) writable = host.whenWritable(endpoint, () => {}, plan.waitMs);
      } catch (error) {
        note(`send of fragment ${seq} to rank ${endpoint.rank} threw: ${(error as Error).message}`);
        resolve(false);
      }
    });
    const done = await Promise.race([completed, wait.promise]);
    wait.cancel();
    if (!done) {
      note(`after ${plan.waitMs} ms, the send of fragment ${seq} to rank ${endpoint.rank} (sendi declined it) had not completed`);
      return { refusals, sent: seq + 1, immediate, failed };
    }
    if (writable) {
      refusals += 1;
      if (!(await writable)) {
        note(`send returned false at fragment ${seq} to rank ${endpoint.rank}, and host.writable did not follow within ${plan.waitMs} ms`);
        return { refusals, sent: seq + 1, immediate, failed };
      }
    }
  }
  return { refusals, sent: plan.count, immediate, failed };
};

/**
 * Offers fragment `seq` to `sendi`: true if it took it (its bytes are scribbled over at once:
 * a module that did not copy them sends garbage), false if it declined, undefined if it threw.
 * A truthy answer that is not `true` counts as taken, as the PML counts it, and is reported.
 */
function sendImmediately(
  module: BtlModule,
  endpoint: BtlEndpoint,
  tag: number,
  bytes: Uint8Array,
  seq: number,
  note: (message: string) => void,
): boolean | undefined {
  let taken: unknown;
  try {
    taken = module.sendi!(endpoint, tag, segmentsOf(bytes, seq));
  } catch (error) {
    note(`sendi of fragment ${seq} to rank ${endpoint.rank} threw: ${(error as Error).message} (it returns false for what it cannot take)`);
    return undefined;
  }
  if (taken !== true && taken !== false) note(`sendi returned ${String(taken)} instead of a boolean`);
  if (taken) bytes.fill(0xee);
  return Boolean(taken);
}

/** A promise resolving false after `ms`, and a way to cancel its timer. */
export function timeout(ms: number): { promise: Promise<false>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Waits until `test` holds or `ms` passed, looking every 20 ms. */
export async function until(test: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!test() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return test();
}
