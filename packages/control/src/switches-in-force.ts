/**
 * The switches an operator made that a reset undoes, kept as they were asked for: each rank only
 * knows which of its peers it was kept from, so a reset told per rank read "switch to rank(s)
 * 1,2 undone" on every rank, as if a job-wide switch had been a `--ranks` one.
 */
import { rankLabel } from './coordinator-group.js';
import { describeVerb, type CommitReply, type Verb } from './protocol.js';

type SwitchVerb = Extract<Verb, { verb: 'switch' }>;
type ResetVerb = Extract<Verb, { verb: 'reset' }>;

/** What one rank's reset undid of earlier switches (its commit reply's `switchUndone`). */
export interface SwitchUndoneReport {
  readonly rank: number;
  readonly undone: NonNullable<CommitReply['switchUndone']>;
}

export class SwitchesInForce {
  #switches: SwitchVerb[] = [];

  /** Follows a verb that was done on every rank. */
  note(verb: Verb): void {
    if (verb.verb === 'switch') {
      // A job-wide switch sets what carries every link: no earlier switch is left in force.
      if (verb.ranks?.length) this.#switches.push(verb);
      else this.#switches = [verb];
    } else if (verb.verb === 'reset') {
      const reset = verb.ranks;
      // A switch is gone once every link it touched was reset; a job-wide one stays in force elsewhere.
      this.#switches = reset?.length ? this.#switches.filter((s) => !s.ranks?.length || !s.ranks.every((r) => reset.includes(r))) : [];
    }
  }

  /** The one line a reset says of the switches it undid, when a rank undid any. */
  describeUndo(reset: ResetVerb, reports: readonly SwitchUndoneReport[]): string | undefined {
    if (!reports.length) return undefined;
    const asked = this.#switches.map(describeSwitch);
    // No switch of this coordinator's (one that failed half-way and was not fully rolled back): said by its links.
    const what = asked.length ? asked.join(', then ') : `a switch on the links of ${rankLabel(reports.map((r) => r.rank))}`;
    const where = reset.ranks?.length ? ` on the links of ${rankLabel(reset.ranks)}` : '';
    const fellBack = fellBackLinks(reports);
    const note = fellBack.length ? ` (link(s) ${fellBack.join(', ')} had fallen back: the switched-to transports failed)` : '';
    return `${what} undone${where}: every loaded transport may carry traffic again${note}`;
  }
}

/** As the operator typed it (`switch tcp --ranks 2`); a job-wide one says so, since per rank it reads like a --ranks one. */
function describeSwitch(s: SwitchVerb): string {
  return s.ranks?.length ? describeVerb(s) : `job-wide switch to ${s.btls.join(',')}`;
}

/** Each link that had fallen back, once, as `0-2`, whichever end reported it. */
function fellBackLinks(reports: readonly SwitchUndoneReport[]): string[] {
  const links = new Set<string>();
  for (const { rank, undone } of reports) for (const peer of undone.fellBack) links.add(`${Math.min(rank, peer)}-${Math.max(rank, peer)}`);
  return [...links].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}
