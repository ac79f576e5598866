/**
 * The steps a rank carried out for one verb, each with its undo, so a verb that failed anywhere
 * can be taken back everywhere (`rollback`). Also the verb's drain budget: every drain of the
 * commit (or of the undo) gets what is left of it, so the verb's `--timeout` bounds them all.
 */
import type { CtlErrorCode } from './protocol.js';

/** What an undo may need to know about the failed verb. */
export interface UndoContext {
  /** The ranks whose commit succeeded. */
  readonly applied: ReadonlySet<number>;
  /** Per component, the ranks that unloaded it in the commit (see the rollback request). */
  readonly unloadedBy?: Readonly<Record<string, readonly number[]>>;
}

export type Undo = (context: UndoContext) => Promise<string[]>;

interface Step {
  readonly changes: readonly string[];
  readonly undo: Undo;
}

/** Drains of a verb with no `--timeout` get what a drain got before verbs were bounded. */
const DEFAULT_DRAIN_BUDGET_MS = 30_000;

export class UndoJournal {
  readonly #steps: Step[] = [];
  /** Components this rank unloaded in the verb, in order: the commit reply tells the coordinator. */
  readonly unloaded: string[] = [];
  /** What a reset undid here of earlier switches: the commit reply tells the coordinator. */
  switchUndone: { readonly peers: readonly number[]; readonly fellBack: readonly number[] } | undefined;
  #deadline: number;

  constructor(drainTimeoutMs: number | undefined) {
    this.#deadline = performance.now() + (drainTimeoutMs ?? DEFAULT_DRAIN_BUDGET_MS);
  }

  /** What the next drain may take: the rest of the verb's budget (at least 1 ms, so it fails at once). */
  drainBudget(): number {
    return Math.max(1, Math.floor(this.#deadline - performance.now()));
  }

  /** Runs a step; once it succeeded, its undo is kept. */
  async step(run: () => Promise<string[]>, undo: Undo): Promise<string[]> {
    const changes = await run();
    // A copy: the caller adds to the list it got back, which must not change what was journaled.
    this.#steps.push({ changes: [...changes], undo });
    return changes;
  }

  /** Records a change already made, with its undo. */
  record(changes: readonly string[], undo: Undo): void {
    this.#steps.push({ changes, undo });
  }

  /**
   * Runs a step whose undo must run even when the step fails half-way: a policy that was set
   * before its drain timed out, a collective step the peers may have completed.
   */
  async stepUndoneEvenIfFailed(run: () => Promise<string[]>, undo: Undo, failedChanges: readonly string[]): Promise<string[]> {
    const step = { changes: failedChanges as string[], undo };
    this.#steps.push(step);
    const changes = await run();
    this.#steps[this.#steps.indexOf(step)] = { changes: [...changes], undo };
    return changes;
  }

  /** Every change still in place, in the order it was made. */
  applied(): string[] {
    return this.#steps.flatMap((s) => s.changes);
  }

  /**
   * Undoes the steps, last first. Stops at the first undo that fails: what is still applied is
   * then exactly the steps not undone (an undo that failed half-way counts as not undone).
   * The undo gets a drain budget of its own.
   */
  async undoAll(
    context: UndoContext,
    drainTimeoutMs: number | undefined,
  ): Promise<{ undone: string[]; applied: string[]; error?: string; code?: CtlErrorCode }> {
    this.#deadline = performance.now() + (drainTimeoutMs ?? DEFAULT_DRAIN_BUDGET_MS);
    const undone: string[] = [];
    while (this.#steps.length) {
      const step = this.#steps.at(-1)!;
      try {
        undone.push(...(await step.undo(context)));
      } catch (err) {
        return { undone, applied: this.applied(), error: (err as Error).message, code: failureCode(err) };
      }
      this.#steps.pop();
    }
    return { undone, applied: [] };
  }
}

/** The protocol's code for a step that threw. */
export function failureCode(err: unknown): CtlErrorCode {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_SWITCHYARD_DRAIN_TIMEOUT') return 'ERR_CTL_DRAIN_TIMEOUT';
  if (code === 'ERR_SWITCHYARD_FENCE_CLOSED') return 'ERR_CTL_STEP_CLOSED';
  return 'ERR_CTL_COMMIT_FAILED';
}
