import type { Transports } from '@switchyard/core-bml';
import type { Mca } from '@switchyard/mca';
import type { Pml } from '@switchyard/pml';
import type { LoopHold, WireUp } from '@switchyard/runtime';
import type { ContextPairs } from './context-pairs.js';

/** What every communicator of a rank shares: the runtime's pieces, never public fields of the API. */
export interface Runtime {
  readonly pml: Pml;
  readonly transports: Transports;
  readonly mca: Mca;
  readonly wireup: WireUp;
  /** The rank's side of the control verbs: finalize waits for a verb it is part of. */
  readonly control: { finalizing(): Promise<void> };
  /** Keeps the event loop alive while the PML has work in flight, and while the world finalizes. */
  readonly loopHold: LoopHold;
  /** The context pairs this rank's communicators took, and those held by creations under way. */
  readonly pairs: ContextPairs;
  /** Set once the world finalized: no communicator of it may be used any more. */
  finalized: boolean;
}

const runtimes = new WeakMap<object, Runtime>();

/** @internal */
export function attachRuntime(owner: object, runtime: Runtime): void {
  runtimes.set(owner, runtime);
}

/**
 * @internal The runtime behind a world (or any communicator of it), for the control agent, the
 * bench and tests that look at the transports; applications have no use for it.
 */
export function internals(owner: object): Runtime {
  const runtime = runtimes.get(owner);
  if (!runtime) throw new TypeError('not a communicator made by init()');
  return runtime;
}
