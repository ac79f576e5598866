import { createHook, type AsyncHook } from 'node:async_hooks';
import { creationSite } from './creation-site.js';

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

// A socket connected to one peer (servers and datagram sockets serve every peer), and timers:
// what a module makes for one peer (a link, a keep-alive, a retry) and must drop at its delProcs.
const CONNECTION = new Set(['TCPWRAP', 'PIPEWRAP', 'TLSWRAP']);
const PER_PEER = new Set([...CONNECTION, 'Timeout']);

/** Deep enough to get past Node's own frames (net, timers) to the module's call. */
const TRACE_FRAMES = 24;

interface Handle {
  readonly type: string;
  /** Where it was made: formatted only for a handle reported as left open. */
  readonly trace: Error;
}

/**
 * Counts the handles (sockets, servers, timers...) created while it runs and not yet closed,
 * by type and the place in the module's code that made them. async_hooks sees unref'd handles
 * too, which process.getActiveResourcesInfo() does not.
 */
export class LeakTracker {
  readonly #live = new Map<number, Handle>();
  readonly #hook: AsyncHook;

  constructor() {
    this.#hook = createHook({
      init: (id, type) => {
        if (TRANSIENT.has(type)) return;
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = TRACE_FRAMES;
        const trace = new Error();
        Error.stackTraceLimit = limit;
        this.#live.set(id, { type, trace });
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

  /**
   * Handles still open, by type and where they were made (`Timeout (made at /…/module.js:42:7)`);
   * waits up to `graceMs` for closes already under way.
   */
  async leftOpen(graceMs: number): Promise<Map<string, number>> {
    return this.#left(() => true, graceMs);
  }

  /** Every handle open now, by id (servers and module-wide timers made at init among them). */
  liveIds(): Set<number> {
    return new Set(this.#live.keys());
  }

  /**
   * Connected sockets and timers created since `before` was taken and still open; waits up to
   * `graceMs` for closes under way (a peer's close reaches this side a little later).
   */
  async perPeerLeft(before: ReadonlySet<number>, graceMs: number): Promise<Map<string, number>> {
    return this.#left((id, type) => PER_PEER.has(type) && !before.has(id), graceMs);
  }

  /** Connected sockets created since `before` was taken and still open; waits up to `graceMs` for closes under way. */
  async connectionsLeft(before: ReadonlySet<number>, graceMs: number): Promise<Map<string, number>> {
    return this.#left((id, type) => CONNECTION.has(type) && !before.has(id), graceMs);
  }

  async #left(counted: (id: number, type: string) => boolean, graceMs: number): Promise<Map<string, number>> {
    const deadline = Date.now() + graceMs;
    for (;;) {
      // Polled with immediates only: a timer of the kit's own would count as a handle left open.
      await new Promise((resolve) => setImmediate(resolve));
      const counts = new Map<string, number>();
      const open = [...this.#live].filter(([id, h]) => counted(id, h.type));
      if (open.length && Date.now() < deadline) continue;
      for (const [, h] of open) {
        const site = creationSite(h.trace);
        const label = site ? `${h.type} (made at ${site})` : h.type;
        counts.set(label, (counts.get(label) ?? 0) + 1);
      }
      return counts;
    }
  }

  stop(): void {
    this.#hook.disable();
  }
}
