import type { BtlModule, BtlRegistration } from '@switchyard/core-bml';

/**
 * Registrations kept after the send that made them (Open MPI's leave-pinned rcache): an
 * application that sends the same buffer again does not pay for registering it again (an
 * openib memory region costs a system call and page pinning). Bounded: the least recently used
 * idle entry is released when the cache is full.
 */
const CAPACITY = 32;
/** A cached registration keeps its buffer alive: the idle ones together hold at most this much. */
const CAPACITY_BYTES = 32 * 1024 * 1024;

export interface CachedRegistration {
  readonly module: BtlModule;
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
  readonly length: number;
  readonly registration: BtlRegistration;
  refs: number;
  lastUse: number;
}

export class RegistrationCache {
  readonly #entries: CachedRegistration[] = [];
  #clock = 0;
  #bytes = 0;
  registered = 0;
  hits = 0;

  /** A registration of `data` on `module`, made or reused; throws what `registerMemory` throws. */
  acquire(module: BtlModule, data: Uint8Array): CachedRegistration {
    const found = this.#entries.find(
      (e) => e.module === module && e.buffer === data.buffer && e.byteOffset === data.byteOffset && e.length === data.length,
    );
    if (found) {
      this.hits += 1;
      found.refs += 1;
      found.lastUse = ++this.#clock;
      return found;
    }
    this.#evict(data.length);
    const registration = module.registerMemory!(data);
    this.registered += 1;
    const entry: CachedRegistration = {
      module,
      buffer: data.buffer,
      byteOffset: data.byteOffset,
      length: data.length,
      registration,
      refs: 1,
      lastUse: ++this.#clock,
    };
    this.#entries.push(entry);
    this.#bytes += entry.length;
    return entry;
  }

  release(entry: CachedRegistration): void {
    entry.refs -= 1;
  }

  /** Forgets every registration on `module` (it is going away). */
  dropModule(module: BtlModule): void {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i]!;
      if (e.module !== module || e.refs > 0) continue;
      this.#entries.splice(i, 1);
      this.#drop(e);
    }
  }

  /** Makes room for `incoming` bytes more. */
  #evict(incoming: number): void {
    while (this.#entries.length >= CAPACITY || (this.#entries.length && this.#bytes + incoming > CAPACITY_BYTES)) {
      let victim = -1;
      for (let i = 0; i < this.#entries.length; i++) {
        const e = this.#entries[i]!;
        if (e.refs === 0 && (victim < 0 || e.lastUse < this.#entries[victim]!.lastUse)) victim = i;
      }
      if (victim < 0) return; // all in use: grow past the bound rather than fail a send
      this.#drop(this.#entries.splice(victim, 1)[0]!);
    }
  }

  #drop(e: CachedRegistration): void {
    this.#bytes -= e.length;
    releaseQuietly(e);
  }
}

/** A module already finalized may refuse; the registration is gone either way. */
function releaseQuietly(e: CachedRegistration): void {
  try {
    e.registration.release();
  } catch {
    // nothing to undo
  }
}
