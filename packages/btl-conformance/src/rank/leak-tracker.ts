import { createHook, type AsyncHook } from 'node:async_hooks';

// Short-lived by nature (they end on their own), or process-wide singletons made on first use
// (the DNS resolver's channel): neither says anything about what a module keeps open.
const TRANSIENT = new Set([
  'DNSCHANNEL',
  'PROMISE',
  'TickObject',
  'Microtask',
  'Immediate',
  'SHUTDOWNWRAP',
  'WRITEWRAP',
  'FSREQCALLBACK',
  'FSREQPROMISE',
  'GETADDRINFOREQWRAP',
  'PIPECONNECTWRAP',
  'TCPCONNECTWRAP',
  'ZLIB',
]);

// A socket connected to one peer (servers and datagram sockets serve every peer).
const CONNECTION = new Set(['TCPWRAP', 'PIPEWRAP', 'TLSWRAP']);

/**
 * Counts the handles (sockets, servers, timers...) created while it runs and not yet closed,
 * by type. async_hooks sees unref'd handles too, which process.getActiveResourcesInfo() does not.
 */
export class LeakTracker {
  readonly #live = new Map<number, string>();
  readonly #hook: AsyncHook;

  constructor() {
    this.#hook = createHook({
      init: (id, type) => {
        if (!TRANSIENT.has(type)) this.#live.set(id, type);
      },
      destroy: (id) => {
        this.#live.delete(id);
      },
    });
  }

  start(): void {
    this.#hook.enable();
  }

  /** Ignores what exists now (created by the kit's own waiting, before the module was touched). */
  forget(): void {
    this.#live.clear();
  }

  /** Handles still open, by type; waits up to `graceMs` for closes already under way. */
  async leftOpen(graceMs: number): Promise<Map<string, number>> {
    const deadline = Date.now() + graceMs;
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      const counts = new Map<string, number>();
      for (const type of this.#live.values()) counts.set(type, (counts.get(type) ?? 0) + 1);
      if (counts.size === 0 || Date.now() > deadline) return counts;
      // Polled with immediates only: a timer of the kit's own would count as a handle left open.
    }
  }

  /** The connected sockets (not servers) open now, by id. */
  connections(): Set<number> {
    return new Set([...this.#live].filter(([, type]) => CONNECTION.has(type)).map(([id]) => id));
  }

  /**
   * Connected sockets opened since `before` was taken and still open; waits up to `graceMs` for
   * closes under way (a peer's close reaches this side a little later).
   */
  async connectionsLeft(before: ReadonlySet<number>, graceMs: number): Promise<Map<string, number>> {
    const deadline = Date.now() + graceMs;
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      const counts = new Map<string, number>();
      for (const [id, type] of this.#live) if (CONNECTION.has(type) && !before.has(id)) counts.set(type, (counts.get(type) ?? 0) + 1);
      if (counts.size === 0 || Date.now() > deadline) return counts;
    }
  }

  stop(): void {
    this.#hook.disable();
  }
}
