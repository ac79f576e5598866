// The process events a transport tends to hook for its clean-up: a listener on one is held by the
// process for good, and with it the module it closes over, unless finalize removes it.
const EVENTS = ['exit', 'beforeExit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'uncaughtException', 'unhandledRejection', 'warning'] as const;

/** Counts of `process` listeners by event, taken before the component is loaded. */
export class ProcessListeners {
  readonly #before: ReadonlyMap<string, number>;

  constructor() {
    this.#before = new Map(EVENTS.map((event) => [event, process.listenerCount(event)]));
  }

  /** Listeners added since, by event: `2 'exit'`. */
  added(): string[] {
    return EVENTS.flatMap((event) => {
      const more = process.listenerCount(event) - this.#before.get(event)!;
      return more > 0 ? [`${more} '${event}'`] : [];
    });
  }
}
