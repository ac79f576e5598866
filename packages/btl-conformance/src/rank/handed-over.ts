import type { Wiring } from './wiring.js';

/** Which of a receiver's streams: the sender, and the sender's module it came over. */
export type HandedOverCount = (sender: number, moduleIndex: number) => number | undefined;

/**
 * How many fragments each of this rank's streams of one round handed to the module and did not
 * see fail (a send that threw, or never got its `writable`, hands over no more; a completion with
 * an error delivers nothing). The ranks exchange these over the runtime once their sends are done,
 * so a receiver stops waiting for fragments that were never on their way: the sender has already
 * reported why, and waiting out the round's full time for them decides nothing.
 */
export class HandedOver {
  readonly #counts: Record<string, number> = {};

  add(peer: number, moduleIndex: number, count: number): void {
    this.#counts[`${peer}/${moduleIndex}`] = count;
  }

  /** Meets every other rank (each calls it once per round, its sends done) and answers what each sent to this one. */
  async exchange(wiring: Wiring, round: string): Promise<HandedOverCount> {
    const entries = await wiring.wireup.exchange({ handed: this.#counts }, `kit-${round}-handed-over`);
    return (sender, moduleIndex) => (entries[sender]?.handed as Record<string, number> | undefined)?.[`${wiring.rank}/${moduleIndex}`];
  }
}
