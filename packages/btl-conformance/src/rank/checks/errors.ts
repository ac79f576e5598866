import type { BtlEndpoint, BtlModule } from '@switchyard/btl-interface';
import { sendLedger } from '../send-ledger.js';
import { KitTest, makeFragment, tagOf } from '../fragments.js';
import type { KitHost } from '../kit-host.js';
import { bounded, PendingCallError } from '../pending.js';
import { CompletionOrder } from './completion-order.js';
import { timeout, until } from '../round.js';
import type { Wiring } from '../wiring.js';

/** Exceptions and rejections nobody caught while the kit ran: a module threw on an async path. */
export class UncaughtRecorder {
  readonly seen: string[] = [];
  readonly #onError = (error: unknown) => {
    if (this.seen.length < 10) this.seen.push(`uncaught: ${(error as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(error)}`);
  };

  install(): void {
    process.on('uncaughtException', this.#onError);
    process.on('unhandledRejection', this.#onError);
  }
}

/** Completions that ran twice on the error paths (reported by errors-to-bml). */
export const twice: string[] = [];

/**
 * Sends that misuse the module must end in done(error) or delivery, never a throw, and always
 * complete; with `mustFail`, only done(error) will do (the fragment cannot have been delivered).
 */
async function sendMustComplete(
  what: string,
  module: BtlModule,
  endpoint: BtlEndpoint,
  tag: number,
  data: Uint8Array,
  waitMs: number,
  mustFail = false,
  onCompleted?: (error?: Error) => void,
): Promise<string | undefined> {
  const wait = timeout(waitMs);
  let calls = 0;
  let result: Promise<{ error?: Error }>;
  try {
    result = new Promise((resolve) =>
      module.send(endpoint, tag, [data], (error) => {
        // A send that fails on an error path is where a completion tends to run twice.
        if (++calls === 2) void Promise.resolve().then(() => twice.push(`${what}: the send's completion ran more than once`));
        if (calls === 1) onCompleted?.(error);
        resolve({ ...(error ? { error } : {}) });
      }),
    );
  } catch (error) {
    wait.cancel();
    return `${what}: send threw (${(error as Error).message}) instead of completing with an error`;
  }
  const completed = await Promise.race([result, wait.promise]);
  wait.cancel();
  if (!completed) return `${what}: the send's completion never ran (within ${waitMs} ms)`;
  return mustFail && !completed.error ? `${what}: the send completed without an error, though it cannot have been delivered` : undefined;
}

/**
 * After a link was lost every send to it has completed (an error counts), so `flush(endpoint)` and
 * `flush()` have nothing to wait for: the BML flushes before it fails a link over or unloads, and a
 * flush that hangs after one failed write hangs every drain, switch and unload after it.
 */
async function flushAfterLoss(module: BtlModule, endpoint: BtlEndpoint, waitMs: number): Promise<string[]> {
  const v: string[] = [];
  // Sends whose completion never ran (an earlier rule's): a flush rightly waits for them.
  const open = sendLedger.unfinished(module, endpoint);
  for (const [call, flushed] of [
    [`flush(endpoint of rank ${endpoint.rank})`, () => module.flush(endpoint)],
    ['flush()', () => module.flush()],
  ] as const) {
    const what = `'${module.name}': ${call} after the link to rank ${endpoint.rank} was lost`;
    try {
      await bounded(open ? what : `${what} (every send to it had completed)`, Promise.resolve().then(flushed), waitMs);
    } catch (error) {
      if (!(error instanceof PendingCallError)) v.push(`${what} rejected (${(error as Error)?.message})`);
      else if (open)
        v.push(`${error.message}: sends to rank ${endpoint.rank} whose completion never ran (${open.byRule}) keep it waiting: ` +
          'every send must run its completion once, when it is sent or fails');
      else v.push(`${error.message}: a failed send must count as completed`);
    }
  }
  return v;
}

/** A fragment over maxSendSize and a tag over 8 bits: reported through done, never thrown. */
export async function misuseProblems(wiring: Wiring, host: KitHost, waitMs: number): Promise<string[]> {
  const v: string[] = [];
  host.sink(tagOf(KitTest.ERRORS), () => {});
  for (const [i, module] of wiring.modules.entries()) {
    const endpoint = wiring.endpoints[i]!.values().next().value;
    if (!endpoint) continue;
    const over = makeFragment(KitTest.ERRORS, { sender: wiring.rank, seq: 0, moduleIndex: i }, module.maxSendSize + 1);
    const problems = [
      await sendMustComplete(
        `'${module.name}': a fragment of maxSendSize + 1 bytes`,
        module,
        endpoint,
        tagOf(KitTest.ERRORS),
        over,
        waitMs,
      ),
      await sendMustComplete(`'${module.name}': tag 256`, module, endpoint, 256, new Uint8Array(32), waitMs),
    ];
    for (const p of problems) if (p) v.push(p);
  }
  await wiring.sync('misuse-end');
  host.sink(tagOf(KitTest.ERRORS), undefined);
  host.takeStrays();
  return v;
}

/**
 * After the peers in `lost` unloaded the component (their process goes on), sending to them must
 * complete every send (an error is expected) and report through host.error, never throw; every
 * error event must be well formed. Reports are counted from `errorsBefore`, taken before the peers
 * unloaded: a loss seen (and reported) at once, before this rank got here, counts. `afterSends`
 * runs right after the sends to a lost peer were issued, before any of them completed.
 */
export async function peerLossProblems(
  wiring: Wiring,
  host: KitHost,
  lost: ReadonlySet<number>,
  waitMs: number,
  errorsBefore = host.errors.length,
  afterSends: (peer: number) => void = () => {},
): Promise<{ errors: string[]; linkLoss: string[] }> {
  const v: string[] = [];
  const linkLoss: string[] = [];
  host.sink(tagOf(KitTest.ERRORS), () => {});
  for (const [i, module] of wiring.modules.entries()) {
    for (const [peer, endpoint] of wiring.endpoints[i]!) {
      if (!lost.has(peer)) continue;
      const sends: Array<Promise<string | undefined>> = [];
      const order = new CompletionOrder();
      for (let seq = 0; seq < 16; seq++) {
        const data = makeFragment(KitTest.ERRORS, { sender: wiring.rank, seq, moduleIndex: i }, Math.min(module.maxSendSize, 32 * 1024));
        sends.push(
          sendMustComplete(
            `'${module.name}': fragment ${seq} to rank ${peer}, whose module was finalized`,
            module,
            endpoint,
            tagOf(KitTest.ERRORS),
            data,
            waitMs,
            false,
            (error) => order.note(seq, error),
          ),
        );
      }
      afterSends(peer);
      for (const p of await Promise.all(sends)) if (p && v.length < 4) v.push(p);
      const asSent = order.asSentAfterFailure();
      if (asSent)
        v.push(
          `'${module.name}': fragment(s) ${asSent.asSent.join(', ')} to rank ${peer} completed as sent after fragment ${asSent.failed} ` +
            `to it had failed, though its module was finalized (they cannot have arrived): a fragment on a failed link must complete ` +
            `with an error, never as sent (the PML would take it as delivered and never send it again)`,
        );
      // The link is gone: the BML must hear it (severity 'endpoint', this endpoint) to stop using it.
      const named = () => host.errors.slice(errorsBefore).filter((e) => e.endpoint === endpoint);
      if (!(await until(() => named().some((e) => e.severity === 'endpoint'), waitMs)))
        linkLoss.push(
          `'${module.name}': rank ${peer}'s module was finalized and 16 sends to it completed, but within ${waitMs} ms no host.error ` +
            `with severity 'endpoint' named its endpoint (${named().length ? `got ${named().map((e) => e.severity).join(', ')}` :
            'none named it'}); the BML would keep choosing a dead link`,
        );
      // Once per failure, not once per fragment: the BML fails the link over on the first one.
      const reports = named().filter((e) => e.severity === 'endpoint').length;
      if (reports > 1)
        linkLoss.push(
          `'${module.name}': the loss of rank ${peer}'s link was reported ${reports} times through host.error (16 sends were pending ` +
            `or issued); report a lost link once, not once per fragment`,
        );
      // A fragment that cannot arrive: it must complete with an error, never succeed (the PML would
      // take the message as delivered, never to replay it on another transport).
      const mustFail = (what: string, seq: number) =>
        sendMustComplete(what, module, endpoint, tagOf(KitTest.ERRORS),
          makeFragment(KitTest.ERRORS, { sender: wiring.rank, seq, moduleIndex: i }, 64), waitMs, true);
      // The module itself said the link is gone, and the peer's module is finalized.
      const afterLoss = named().some((e) => e.severity === 'endpoint')
        ? await mustFail(`'${module.name}': a fragment to rank ${peer} after the module reported that link lost (its module is gone)`, 98)
        : undefined;
      if (afterLoss) v.push(afterLoss);
      v.push(...(await flushAfterLoss(module, endpoint, waitMs)));
      await wiring.delEndpoints(i, [endpoint]);
      const afterDel = await mustFail(`'${module.name}': a fragment to rank ${peer}'s endpoint after delProcs deleted it`, 99);
      if (afterDel) v.push(afterDel);
    }
  }
  const fatal = host.errors.slice(errorsBefore).filter((e) => e.severity === 'fatal');
  if (fatal.length && wiring.endpoints.some((map) => [...map.keys()].some((r) => !lost.has(r))))
    linkLoss.push(
      `host.error was given severity 'fatal' (${fatal[0]!.error?.message}) though only rank(s) ${[...lost].join(', ')} were lost and ` +
        `the module still reaches others: the BML would drop it for every peer`,
    );
  for (const event of host.errors.slice(errorsBefore)) {
    if (!wiring.modules.includes(event.module)) v.push(`host.error was given an event whose module is not one of the component's`);
    if (event.severity !== 'endpoint' && event.severity !== 'fatal')
      v.push(`host.error was given severity '${String(event.severity)}' (expected 'endpoint' or 'fatal')`);
    if (!(event.error instanceof Error)) v.push(`host.error was given an event whose error is not an Error`);
    if (event.endpoint && !host.endpoints.has(event.endpoint)) v.push(`host.error was given an endpoint no addProcs returned`);
  }
  host.sink(tagOf(KitTest.ERRORS), undefined);
  host.takeStrays();
  return { errors: v, linkLoss };
}
