import { MpiError } from './errors.js';

/** What `rank` and `translateRanks` answer for a process that is not in the group (MPI_UNDEFINED). */
const NOT_IN_GROUP = -1;

/**
 * An ordered set of processes (MPI_Group): a communicator's `group`, or one made from another by
 * `incl`, `excl`, `union`, `intersection` or `difference`. Local: making one sends nothing;
 * `comm.create(group)` turns it into a communicator. Processes are named by their rank in the
 * group; the group keeps their world ranks underneath, so groups of different communicators
 * can be compared and translated.
 */
export class Group {
  readonly #members: readonly number[];
  readonly #index: Map<number, number>;
  readonly #me: number;

  /** @internal made by `comm.group` and the group operations; `members` are world ranks, `me` this process's */
  constructor(members: readonly number[], me: number) {
    this.#members = members;
    this.#index = new Map(members.map((w, r) => [w, r]));
    this.#me = me;
  }

  /** Processes in the group (MPI_Group_size). */
  get size(): number {
    return this.#members.length;
  }

  /** This process's rank in the group, or UNDEFINED (-1) when it is not in it (MPI_Group_rank). */
  get rank(): number {
    return this.#index.get(this.#me) ?? NOT_IN_GROUP;
  }

  /** The world rank of each member, in group order. */
  get worldRanks(): number[] {
    return [...this.#members];
  }

  /** The members at `ranks` of this group, in that order (MPI_Group_incl). */
  incl(ranks: readonly number[]): Group {
    this.#checkRanks(ranks, 'incl');
    return new Group(
      ranks.map((r) => this.#members[r]!),
      this.#me,
    );
  }

  /** The members not at `ranks`, in this group's order (MPI_Group_excl). */
  excl(ranks: readonly number[]): Group {
    this.#checkRanks(ranks, 'excl');
    const out = new Set(ranks);
    return new Group(
      this.#members.filter((_, r) => !out.has(r)),
      this.#me,
    );
  }

  /** This group's members, then `other`'s that are not in it (MPI_Group_union). */
  union(other: Group): Group {
    return new Group([...this.#members, ...other.#members.filter((w) => !this.#index.has(w))], this.#me);
  }

  /** This group's members that are also in `other`, in this group's order (MPI_Group_intersection). */
  intersection(other: Group): Group {
    return new Group(
      this.#members.filter((w) => other.#index.has(w)),
      this.#me,
    );
  }

  /** This group's members that are not in `other`, in this group's order (MPI_Group_difference). */
  difference(other: Group): Group {
    return new Group(
      this.#members.filter((w) => !other.#index.has(w)),
      this.#me,
    );
  }

  /** The rank in `other` of each of this group's `ranks`, or UNDEFINED (-1) for one not in it (MPI_Group_translate_ranks). */
  translateRanks(ranks: readonly number[], other: Group): number[] {
    this.#checkRanks(ranks, 'translateRanks', true);
    return ranks.map((r) => other.#index.get(this.#members[r]!) ?? NOT_IN_GROUP);
  }

  /** True when both hold the same processes in the same order (MPI_IDENT). */
  equals(other: Group): boolean {
    return this.size === other.size && this.#members.every((w, r) => other.#members[r] === w);
  }

  #checkRanks(ranks: readonly number[], what: string, repeats = false): void {
    if (!Array.isArray(ranks)) throw new MpiError('ERR_GROUP', `group.${what}: ranks must be an array of group ranks`);
    const seen = new Set<number>();
    for (const r of ranks) {
      if (!Number.isInteger(r) || r < 0 || r >= this.size) {
        throw new MpiError('ERR_RANK', `group.${what}: rank must be an integer from 0 to ${this.size - 1}, got ${r}`);
      }
      if (!repeats && seen.has(r)) throw new MpiError('ERR_GROUP', `group.${what}: rank ${r} is given twice`);
      seen.add(r);
    }
  }
}
