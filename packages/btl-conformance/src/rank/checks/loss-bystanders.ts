import type { BtlEndpoint } from '@switchyard/btl-interface';
import { KitTest, makeFragment, readFragment, tagOf } from '../fragments.js';
import type { KitHost } from '../kit-host.js';
import { until } from '../round.js';
import type { Wiring } from '../wiring.js';
import { watchedSend } from './completion.js';

const TEST = KitTest.LOSS_BYSTANDER;

/**
 * link-loss: the ranks whose modules live on while others' are lost. A rank that survives sends
 * to them (its own endpoint first, its healthy peers last) right before the lost ranks' modules
 * are finalized and again right after its first sends to a lost peer, so whenever the module
 * notices the loss, the peer it sent to last is a healthy one. A module that blames a connection
 * error on the peer it last sent to (a broker client's errors name no subject) then reports the
 * healthy link lost, and the BML would take it down while the dead one stays in the send lists;
 * with one peer only (2 ranks) the two are the same, so the kit's 3-rank job runs this rule too.
 * Each of these fragments must complete without an error and arrive.
 */
export class LossBystanders {
  readonly #tag = tagOf(TEST);
  /** Fragments this rank sent, by receiving rank. */
  readonly #sent = new Map<number, number>();
  /** Fragments that arrived here, by sending rank. */
  readonly #arrived = new Map<number, number>();
  readonly #sends: Array<Promise<void>> = [];
  readonly #problems: string[] = [];
  /** The endpoints of ranks that are not lost: no loss may be reported with one of them. */
  readonly #healthy: ReadonlySet<BtlEndpoint>;
  #seq = 0;

  /** Receives from now on: made before a sync every rank passes before any sends. */
  constructor(
    readonly wiring: Wiring,
    readonly host: KitHost,
    readonly lost: ReadonlySet<number>,
    readonly waitMs: number,
  ) {
    this.#healthy = new Set(wiring.endpoints.flatMap((map) => [...map].filter(([rank]) => !lost.has(rank)).map(([, e]) => e)));
    host.sink(this.#tag, (from, data) => {
      const id = readFragment(TEST, data);
      if (typeof id === 'string') this.#note(`from rank ${from}, while rank(s) ${this.#lostList()} were lost: ${id}`);
      else this.#arrived.set(from, (this.#arrived.get(from) ?? 0) + 1);
    });
  }

  /** One fragment to every endpoint of a rank not lost, per module, issued at once: the rank's own first, its peers last. */
  send(when: string): void {
    const { wiring } = this;
    if (this.lost.has(wiring.rank)) return;
    const ownFirst = ([a]: [number, BtlEndpoint], [b]: [number, BtlEndpoint]) => Number(b === wiring.rank) - Number(a === wiring.rank);
    for (const [i, module] of wiring.modules.entries()) {
      for (const [peer, endpoint] of [...wiring.endpoints[i]!].filter(([r]) => !this.lost.has(r)).sort(ownFirst)) {
        const data = makeFragment(TEST, { sender: wiring.rank, seq: this.#seq++, moduleIndex: i }, 64);
        const what = `'${module.name}': a fragment to rank ${peer} (its module lives on) sent ${when}`;
        const sent = watchedSend((done) => module.send(endpoint, this.#tag, [data], done));
        if (sent.threw) {
          this.#note(`${what}: send threw (${sent.threw.message})`);
          continue;
        }
        this.#sent.set(peer, (this.#sent.get(peer) ?? 0) + 1);
        this.#sends.push(sent.watch.settled(this.waitMs).then((settled) => {
          if (!settled) this.#note(`${what}: its completion never ran (within ${this.waitMs} ms)`);
          else if (sent.watch.error) this.#note(`${what} failed: ${sent.watch.error.message} (a loss leaves the other links alone)`);
        }));
      }
    }
  }

  /**
   * Every rank, once the lost peers were looked at: waits for its sends, learns what the others
   * sent here and waits for it, and returns what went wrong, the losses reported (since
   * `errorsFrom`) with a healthy peer's endpoint included.
   */
  async settle(errorsFrom: number): Promise<string[]> {
    const { wiring, host } = this;
    await Promise.all(this.#sends);
    const entries = await wiring.wireup.exchange({ sent: Object.fromEntries(this.#sent) }, 'kit-loss-bystanders');
    const expected = entries.map((e) => Number((e.sent as Record<string, number> | undefined)?.[wiring.rank] ?? 0));
    const missing = () => expected.flatMap((n, from) => ((this.#arrived.get(from) ?? 0) < n ? [from] : []));
    if (!(await until(() => missing().length === 0, this.waitMs)))
      this.#note(`fragments from rank(s) ${missing().join(', ')} (their modules live on), sent while rank(s) ${this.#lostList()} were ` +
        `lost, had not arrived within ${this.waitMs} ms`);
    host.sink(this.#tag, undefined);
    if (this.lost.has(wiring.rank)) return this.#problems;
    const blamed = new Set<BtlEndpoint>();
    for (const event of host.errors.slice(errorsFrom)) {
      if (event.severity !== 'endpoint' || !event.endpoint || !this.#healthy.has(event.endpoint) || blamed.has(event.endpoint)) continue;
      blamed.add(event.endpoint);
      this.#note(`'${event.module?.name}': host.error (endpoint: ${event.error?.message}) named rank ${event.endpoint.rank}'s endpoint, ` +
        `whose module lives on, when rank(s) ${this.#lostList()} were lost (this rank had just sent to it): ` +
        `report a loss with the endpoint of the link that failed; the BML would take the healthy link down and keep the dead one`);
    }
    return this.#problems;
  }

  #lostList(): string {
    return [...this.lost].join(', ');
  }

  #note(message: string): void {
    if (this.#problems.length < 8) this.#problems.push(message);
  }
}
