import type { BtlRegistration } from '@switchyard/btl-interface';
import { SmError, SmErrorCodes } from './errors.js';
import { H_REG, PUT_BEGUN, REG_SLOTS } from './layout.js';

/** What a peer's get/put receives: where the memory is in our process and the key that must still be live. */
export interface SmHandle {
  readonly slot: number;
  readonly key: number;
  /** The address in the owner's process, as a decimal string (JSON has no bigint). */
  readonly address: string;
  readonly length: number;
}

/**
 * Memory registered for peers' single-copy get/put. A registration is a slot of the segment
 * header holding a key; a peer checks the key before its process_vm_readv, so memory released
 * here is refused there (CMA itself would read whatever is at the address).
 */
export class Registry {
  readonly #header: Int32Array;
  readonly #addressOf: (view: ArrayBufferView) => bigint;
  readonly #free: number[] = [];
  /** Keeps registered memory reachable (and so at its address) until release. */
  readonly #held = new Map<number, Uint8Array>();
  #nextKey = 0;

  constructor(header: Int32Array, addressOf: (view: ArrayBufferView) => bigint) {
    this.#header = header;
    this.#addressOf = addressOf;
    for (let slot = REG_SLOTS - 1; slot >= 0; slot--) this.#free.push(slot);
  }

  register(data: Uint8Array): BtlRegistration {
    const slot = this.#free.pop();
    if (slot === undefined) {
      throw new SmError(SmErrorCodes.NO_SLOT, `btl sm: all ${REG_SLOTS} registration slots are in use; release some first`);
    }
    // Keys stay below PUT_BEGUN: a peer's put marks the slot with that bit.
    this.#nextKey = (this.#nextKey % (PUT_BEGUN - 1)) + 1;
    const key = this.#nextKey;
    const handle: SmHandle = { slot, key, address: this.#addressOf(data).toString(), length: data.length };
    this.#held.set(slot, data);
    Atomics.store(this.#header, H_REG + slot, key);
    let released = false;
    const free = () => {
      released = true;
      this.#held.delete(slot);
      this.#free.push(slot);
    };
    return {
      handle,
      length: data.length,
      release: () => {
        if (released) return;
        Atomics.store(this.#header, H_REG + slot, 0);
        free();
      },
      // Withdrawn only if no peer's put has begun (one that has set PUT_BEGUN).
      revoke: () => {
        if (released) return true;
        if (Atomics.compareExchange(this.#header, H_REG + slot, key, 0) !== key) return false;
        free();
        return true;
      },
    };
  }

  /** Invalidates every registration (finalize): peers' later get/put fail. */
  clear(): void {
    for (const slot of this.#held.keys()) Atomics.store(this.#header, H_REG + slot, 0);
    this.#held.clear();
  }
}

/** Checks a handle a peer sent us; a message naming what is wrong otherwise. */
export function parseHandle(value: unknown): SmHandle | string {
  if (value === null || typeof value !== 'object') return 'the remote handle is not an sm registration handle';
  const { slot, key, address, length } = value as Record<string, unknown>;
  if (typeof slot !== 'number' || !Number.isInteger(slot) || slot < 0 || slot >= REG_SLOTS) {
    return `the remote handle has an invalid slot ${String(slot)}`;
  }
  if (typeof key !== 'number' || !Number.isInteger(key) || key <= 0) return `the remote handle has an invalid key ${String(key)}`;
  if (typeof address !== 'string' || !/^[0-9]{1,20}$/.test(address)) return 'the remote handle has an invalid address';
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
    return `the remote handle has an invalid length ${String(length)}`;
  }
  return { slot, key, address, length };
}
