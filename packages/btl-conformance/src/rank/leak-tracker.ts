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
  // Crypto jobs: a synchronous one (randomBytes(16) for a handshake's nonce) is an async resource
  // too, whose destroy comes only with the garbage collector.
  'RANDOMBYTESREQUEST',
  'RANDOMPRIMEREQUEST',
  'CHECKPRIMEREQUEST',
  'HASHREQUEST',
  'HKDFREQUEST',
  'PBKDF2REQUEST',
  'SCRYPTREQUEST',
  'SIGNREQUEST',
  'VERIFYREQUEST',
  'CIPHERREQUEST',
  'DERIVEBITSREQUEST',
  'KEYGENREQUEST',
  'KEYPAIRGENREQUEST',
  'KEYEXPORTREQUEST',
]);

// A socket connected to one peer (servers and datagram sockets serve every peer), and timers:
// what a module makes for one peer (a link, a keep-alive, a retry) and must drop at its delProcs.
const CONNECTION = new Set(['TCPWRAP', 'PIPEWRAP', 'TLSWRAP']);
const PER_PEER = new Set([...CONNECTION, 'Timeout']);

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
      for (const [id, type] of this.#live) if (counted(id, type)) counts.set(type, (counts.get(type) ?? 0) + 1);
      if (counts.size === 0 || Date.now() >= deadline) return counts;
    }
  }

  stop(): void {
    this.#hook.disable();
  }
}
