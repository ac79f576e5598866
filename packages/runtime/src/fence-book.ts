/**
 * The HNP's bookkeeping for modex and barriers: which ranks joined which fence, and what each
 * rank put for it. A fence is named (so unrelated collectives may be in flight at once) and
 * numbered per name (so a modex re-run when a transport is re-loaded is a new generation, never
 * mixed up with the previous one).
 */

export interface CompletedFence {
  readonly name: string;
  readonly generation: number;
  /** rank -> data that rank put for this generation. */
  readonly table: Array<Record<string, unknown>>;
}

export interface FailedFence {
  readonly name: string;
  readonly generation: number;
  /** The ranks that had joined and are waiting; they must be told. */
  readonly joined: number[];
  /** The ranks it waited for that can never join. */
  readonly gone: number[];
  /** Closed by its owner (`close`): why, and the ranks that had not joined it then. */
  readonly closed?: { readonly why: string; readonly missing: number[] };
}

/** How many closed name prefixes are remembered for late joiners: one a failed verb, so a few suffice. */
const CLOSED_KEPT = 64;

interface OpenFence {
  readonly name: string;
  readonly generation: number;
  readonly data: Array<Record<string, unknown> | undefined>;
  readonly joined: Set<number>;
}

export class FenceBook {
  readonly #size: number;
  /** name -> rank -> data put since that rank's last fence of that name. */
  readonly #pending = new Map<string, Array<Record<string, unknown> | undefined>>();
  /** `${name}#${generation}` -> fence some ranks joined. */
  readonly #open = new Map<string, OpenFence>();
  /** Ranks that can never join again (finalized, exited, disconnected). */
  readonly #gone = new Set<number>();
  /** Name prefix -> why its fences were closed: a rank that joins one later fails at once. */
  readonly #closed = new Map<string, string>();

  constructor(size: number) {
    this.#size = size;
  }

  /** Adds keys to `rank`'s data for its next fence of `name`. */
  put(rank: number, name: string, data: Record<string, unknown>): void {
    let perRank = this.#pending.get(name);
    if (!perRank) this.#pending.set(name, (perRank = new Array(this.#size).fill(undefined)));
    perRank[rank] = { ...perRank[rank], ...data };
  }

  /**
   * Records that `rank` joined (name, generation). Returns the completed fence when it was the
   * last rank to join, or a failure when a rank it needs is already gone.
   */
  join(rank: number, name: string, generation: number): CompletedFence | FailedFence | undefined {
    const closed = this.#closedWhy(name);
    if (closed !== undefined) {
      // Alone in it: the others were told when it closed, and none may wait on this rank there.
      const perRank = this.#pending.get(name);
      if (perRank) perRank[rank] = undefined;
      if (perRank?.every((d) => d === undefined)) this.#pending.delete(name);
      return { name, generation, joined: [rank], gone: [], closed: { why: closed, missing: [] } };
    }
    const key = `${name}#${generation}`;
    let fence = this.#open.get(key);
    if (!fence) this.#open.set(key, (fence = { name, generation, data: new Array(this.#size).fill(undefined), joined: new Set() }));
    const perRank = this.#pending.get(name);
    fence.data[rank] = { ...fence.data[rank], ...perRank?.[rank] };
    if (perRank) {
      perRank[rank] = undefined;
      // Names are often used once (every verb's exchanges have their own): keep none for ever.
      if (perRank.every((d) => d === undefined)) this.#pending.delete(name);
    }
    fence.joined.add(rank);
    const gone = this.#missing(fence).filter((r) => this.#gone.has(r));
    if (gone.length) {
      this.#open.delete(key);
      return { name, generation, joined: [...fence.joined], gone };
    }
    if (fence.joined.size < this.#size) return undefined;
    this.#open.delete(key);
    return { name, generation, table: fence.data.map((d) => d ?? {}) };
  }

  /** `rank` will never join again: every open fence still waiting for it fails. */
  leave(rank: number): FailedFence[] {
    this.#gone.add(rank);
    this.#pending.forEach((perRank) => (perRank[rank] = undefined));
    const failed: FailedFence[] = [];
    for (const [key, fence] of this.#open) {
      if (fence.joined.has(rank)) continue;
      this.#open.delete(key);
      failed.push({ name: fence.name, generation: fence.generation, joined: [...fence.joined], gone: [rank] });
    }
    return failed;
  }

  /**
   * Fails every open fence whose name starts with `prefix`, and any such fence joined later: a
   * collective step its owner gave up on (a control verb whose time is up) ends the same way on
   * every rank, the ones that had joined and the ones that come late, so none waits for ever.
   */
  close(prefix: string, why: string): FailedFence[] {
    this.#closed.set(prefix, why);
    if (this.#closed.size > CLOSED_KEPT) this.#closed.delete(this.#closed.keys().next().value!);
    for (const name of [...this.#pending.keys()]) if (name.startsWith(prefix)) this.#pending.delete(name);
    const failed: FailedFence[] = [];
    for (const [key, fence] of this.#open) {
      if (!fence.name.startsWith(prefix)) continue;
      this.#open.delete(key);
      const closed = { why, missing: this.#missing(fence) };
      failed.push({ name: fence.name, generation: fence.generation, joined: [...fence.joined], gone: [], closed });
    }
    return failed;
  }

  #closedWhy(name: string): string | undefined {
    for (const [prefix, why] of this.#closed) if (name.startsWith(prefix)) return why;
    return undefined;
  }

  /** An open fence `rank` has joined and waits in (the oldest), with the ranks that have not joined it yet. */
  waitingIn(rank: number): { name: string; missing: number[] } | undefined {
    for (const fence of this.#open.values()) if (fence.joined.has(rank)) return { name: fence.name, missing: this.#missing(fence) };
    return undefined;
  }

  /** How many fence names hold data not yet taken by a fence, and how many fences are open. */
  get held(): { names: number; open: number } {
    return { names: this.#pending.size, open: this.#open.size };
  }

  #missing(fence: OpenFence): number[] {
    const missing: number[] = [];
    for (let r = 0; r < this.#size; r++) if (!fence.joined.has(r)) missing.push(r);
    return missing;
  }
}

export function isCompleted(result: CompletedFence | FailedFence): result is CompletedFence {
  return 'table' in result;
}
