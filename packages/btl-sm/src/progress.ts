import { performance } from 'node:perf_hooks';
import { soon } from '@switchyard/btl-base';
import { RunQueue } from './run-queue.js';

/** The longest the poller looks at the rings within one turn of the event loop, in ms. */
const INNER_SPIN_MS = 0.02;
/** The longest the poller keeps the event loop from turning while it polls between microtasks, in ms. */
const CHAIN_MS = 0.2;
/**
 * How long the poller keeps polling, without progress, while fragments wait for room in a
 * peer's ring: the peer is draining it (it was rung if it slept), and a sender that slept would
 * add a wake-up to every ring's worth of a large message.
 */
const HOLD_MS = 1;
/** A yield that took longer than this (ms) handed the core to another process. */
const CONTENDED_MS = 0.02;
/**
 * Yields that gave the core away for this much of a CONTENTION_WINDOW_MS mean the core is
 * shared. A few short ones are the process's own garbage collector threads or a passing process,
 * and must not cost 100 ms of sleeping.
 */
const CONTENDED_SHARE_MS = 2.5;
const CONTENTION_WINDOW_MS = 10;
/**
 * After that, the poller sleeps at once for this long (ms) before it tries spinning again; the
 * time doubles, up to CONTENTION_MEMORY_MAX_MS, while each try finds the core shared again within
 * its first window (more ranks than cores), and is back to the first otherwise. A first short one
 * keeps a passing burst (the JIT compiling on its threads) from costing 100 ms of sleeping.
 */
const CONTENTION_MEMORY_MS = 10;
const CONTENTION_MEMORY_MAX_MS = 160;
/** How long the run queue must have been crowded without a break before the poller sleeps for contention, in ms. */
const CROWDED_FOR_MS = 30;
/**
 * A yield costs a system call (about 1.3 µs in this project's VMs, most of a 0-byte message's
 * time): while the machine has a core for every runnable thread, the poller yields at most once
 * per YIELD_GAP_MS, which still hands the core over within that gap to a thread that just woke.
 */
const YIELD_GAP_MS = 0.05;

/**
 * When the module looks at its rings: while there is traffic, and for `spinTime` microseconds
 * after the last of it, between microtasks (so what arrives resolves the application's requests
 * and their continuations send the next message without waiting for a turn of the event loop,
 * about a microsecond here), letting the loop turn every CHAIN_MS; then it declares itself
 * asleep and the loop blocks in epoll until a sender rings the doorbell. Spinning only
 * briefly matters on a box with fewer cores than ranks: a rank that never sleeps takes the core
 * the rank it waits for needs.
 */
export class Poller {
  readonly #work: () => number;
  readonly #sleep: () => void;
  readonly #wake: () => void;
  readonly #spinMs: number;
  readonly #idle: () => void;
  readonly #holding: () => boolean;
  #spinning = false;
  #active = false;
  #last = 0;
  #stopped = false;
  #contendedUntil = 0;
  #chainStart = 0;
  #givenAway = 0;
  #windowStart = 0;
  #memoryMs = CONTENTION_MEMORY_MS;
  #lastYield = 0;
  /** The application's wait() polled the rings since the poller last looked (busy polling). */
  #polledElsewhere = false;
  /** Its own descriptor of /proc/loadavg, closed by stop(): a finalized module leaves nothing open. */
  readonly #runQueue = new RunQueue();

  /**
   * @param work polls everything once, returns how much it did.
   * @param sleep declares the process asleep (senders ring from now on).
   * @param wake declares it awake again.
   * @param idle runs between looks that found nothing (gives the core away if someone needs it).
   * @param holding true while fragments wait for room in a peer's ring.
   */
  constructor(work: () => number, sleep: () => void, wake: () => void, spinMicros: number, idle: () => void, holding: () => boolean) {
    this.#idle = idle;
    this.#holding = holding;
    this.#work = work;
    this.#sleep = sleep;
    this.#wake = wake;
    this.#spinMs = spinMicros / 1000;
  }

  /** Something happened (a send, a new peer): keep polling for a while. */
  kick(): void {
    this.#active = true;
    if (this.#spinning || this.#stopped) return;
    this.#spinning = true;
    this.#last = performance.now();
    setImmediate(this.#turn);
  }

  /** The doorbell rang: poll now, then keep polling for a while. */
  rung(): void {
    if (this.#stopped) return;
    this.#active = true;
    if (this.#spinning) return;
    this.#spinning = true;
    this.#turn();
  }

  /**
   * The module was polled from outside (a busy-polling wait()): while that goes on, the poller
   * looks once per turn of the event loop instead of between microtasks, where it would run
   * between the application's continuations, on the path of every message.
   */
  polledElsewhere(): void {
    this.#polledElsewhere = true;
  }

  stop(): void {
    this.#stopped = true;
    this.#runQueue.close();
  }

  #budget(): number {
    return this.#holding() ? Math.max(this.#spinMs, HOLD_MS) : this.#spinMs;
  }

  /**
   * Gives the core away if someone waits for it (at most once per YIELD_GAP_MS while there are
   * cores to spare); returns the time after. Yields that keep handing the core over, while more
   * threads want to run than there are cores, mean it is shared, and polling costs the rank we
   * wait for its turn: then sleep on the doorbell instead, and do not spin again for a while.
   */
  #yield(): number {
    const before = performance.now();
    if (before - this.#lastYield < YIELD_GAP_MS && !this.#runQueue.crowded(before)) return before;
    this.#idle();
    const now = performance.now();
    this.#lastYield = now;
    if (now - this.#windowStart > CONTENTION_WINDOW_MS) {
      this.#windowStart = before;
      this.#givenAway = 0;
    }
    if (now - before > CONTENDED_MS) {
      this.#givenAway += now - before;
      // The process's own helper threads (the garbage collector's, the compiler's) take the core
      // in bursts too: sleeping is for a core that other processes keep wanting.
      if (this.#givenAway >= CONTENDED_SHARE_MS && this.#runQueue.crowdedFor(now) >= CROWDED_FOR_MS) {
        // Found shared again within a window of the last sleep's end: sleep longer this time.
        const again = now - this.#contendedUntil < CONTENTION_WINDOW_MS;
        this.#memoryMs = again ? Math.min(2 * this.#memoryMs, CONTENTION_MEMORY_MAX_MS) : CONTENTION_MEMORY_MS;
        this.#contendedUntil = now + this.#memoryMs;
        this.#windowStart = now;
        this.#givenAway = 0;
      }
    }
    return now;
  }

  /**
   * Polled from a wait() since the last look: that wait spins, not the poller, and a chain of
   * looks between microtasks would hold back the turn's other callbacks (the one that lets that
   * wait go on after it let the loop turn) for up to CHAIN_MS. True when the poller has handed
   * over: it looks once more on the next turn, and goes on spinning once nobody polls meanwhile.
   */
  #leftToWait(now: number): boolean {
    if (!this.#polledElsewhere) return false;
    this.#polledElsewhere = false;
    this.#active = false;
    this.#last = now;
    setImmediate(this.#turn);
    return true;
  }

  /** One look between microtasks; the event loop turns again after CHAIN_MS, or when polling ends. */
  readonly #step = (): void => {
    if (this.#stopped) {
      this.#spinning = false;
      return;
    }
    let now = performance.now();
    if (this.#leftToWait(now)) return;
    if (this.#work() > 0 || this.#active) {
      this.#active = false;
      this.#last = now;
    } else {
      now = this.#yield();
    }
    if (now - this.#chainStart < CHAIN_MS && now >= this.#contendedUntil && now - this.#last < this.#budget()) {
      soon(this.#step);
      return;
    }
    setImmediate(this.#turn);
  };

  readonly #turn = (): void => {
    if (this.#stopped) {
      this.#spinning = false;
      return;
    }
    let now = performance.now();
    let moved = this.#work();
    if (this.#leftToWait(now)) return;
    const spinning = now >= this.#contendedUntil;
    if (!moved && !this.#active && spinning) {
      // A loop turn costs an epoll_wait: look at the rings for a few microseconds first, and
      // give the turn back (timers, sockets, the microtasks of what arrived) once anything moves.
      const until = Math.min(now + INNER_SPIN_MS, this.#last + this.#budget());
      while (!(moved = this.#work()) && now < until) {
        now = this.#yield();
        if (now < this.#contendedUntil) break;
      }
    }
    if (moved > 0 || this.#active) {
      this.#active = false;
      this.#last = now;
    }
    if (now >= this.#contendedUntil && now - this.#last < this.#budget()) {
      this.#chainStart = now;
      soon(this.#step);
      return;
    }
    // Declare sleep, then look once more: a sender that wrote before seeing the flag did not ring.
    this.#sleep();
    if (this.#work() > 0) {
      this.#wake();
      this.#last = performance.now();
      setImmediate(this.#turn);
      return;
    }
    this.#spinning = false;
  };
}
