import { RefHold } from './ref-hold.js';

/**
 * Keeps a rank's event loop alive while the runtime has work an application waits on, and only
 * then. The transports' handles (listeners, connections, doorbells, completion queues) are
 * unref'd, so a rank whose script is done and has nothing in flight lets its loop empty: Node
 * emits 'beforeExit', and the app API finalizes for it (MPI's finalize at exit, as mpi4py's).
 * One interval timer that never fires in practice is ref'd on the first hold and unref'd on the
 * last release: about 70 ns each time the PML goes from idle to busy and back.
 */
export class LoopHold extends RefHold {
  readonly #timer: NodeJS.Timeout;

  constructor() {
    const timer = setInterval(noop, 2 ** 30);
    timer.unref();
    super(timer);
    this.#timer = timer;
  }

  /** Stops holding for good, whatever holds remain (the rank finalized). */
  close(): void {
    clearInterval(this.#timer);
  }
}

function noop(): void {}
