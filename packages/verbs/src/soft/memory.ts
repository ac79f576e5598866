import { randomInt } from 'node:crypto';
import { Access } from '../constants.js';
import { VerbsError } from '../errors.js';
import type { AccessFlags, MemoryRegion, ProtectionDomain, Sge } from '../types.js';

/** A protection domain: MRs and QPs must share one for a QP to touch an MR. */
let pdIds = 0;

export class SoftPd implements ProtectionDomain {
  /** MRs and QPs created in it: dealloc refuses while any is alive (EBUSY). */
  users = 0;
  /** Names the PD in the device's published region table (mr-window.ts). */
  readonly id = ++pdIds;
  #onDealloc: (pd: SoftPd) => void;

  constructor(
    readonly owner: object,
    onDealloc: (pd: SoftPd) => void,
  ) {
    this.#onDealloc = onDealloc;
  }

  dealloc(): void {
    if (this.users > 0) throw VerbsError.of('ibv_dealloc_pd', 'EBUSY', 'memory regions or queue pairs still use it');
    this.#onDealloc(this);
  }
}

export class SoftMr implements MemoryRegion {
  valid = true;
  /** Lets the owning context forget it once deregistered. */
  onRemove?: (mr: SoftMr) => void;

  constructor(
    private readonly table: MrTable,
    readonly pd: SoftPd,
    readonly lkey: number,
    readonly rkey: number,
    readonly addr: bigint,
    readonly buffer: Uint8Array,
    readonly access: AccessFlags,
  ) {}

  get length(): number {
    return this.buffer.byteLength;
  }

  deregister(): void {
    this.table.remove(this);
  }
}

/** Why an access was refused; the caller maps it to the completion status of its side. */
export type AccessFault = 'KEY' | 'PD' | 'ACCESS' | 'BOUNDS';

/** A bounds- and key-checked window into a registered buffer. */
export interface Window {
  readonly bytes: Uint8Array;
}

/** Synthetic I/O addresses start here, page aligned with a guard page between regions, like a real VA. */
const ADDRESS_BASE = 0x7f00_0000_0000n;
const PAGE = 4096n;

/**
 * A device's memory regions, by key. Keys are (index << 8 | random byte), as HCAs build them, so
 * a stale or guessed key is rejected even when its index is reused.
 */
/** Where a device shows its regions to peers' requesters (mr-window.ts), while it can. */
export interface MrPublication {
  publish(mr: SoftMr): void;
  withdraw(mr: SoftMr): void;
}

export class MrTable {
  #byKey = new Map<number, SoftMr>();
  publication?: MrPublication;
  #nextIndex = 1;
  #nextAddr = ADDRESS_BASE;

  register(pd: SoftPd, buffer: Uint8Array, access: AccessFlags): SoftMr {
    if (!(buffer instanceof Uint8Array)) throw new TypeError('registerMemory needs a Uint8Array or Buffer');
    // ibv_reg_mr: remote write (or atomic) access requires local write access.
    if (access & (Access.REMOTE_WRITE | Access.REMOTE_ATOMIC) && !(access & Access.LOCAL_WRITE)) {
      throw VerbsError.of('ibv_reg_mr', 'EINVAL', 'REMOTE_WRITE needs LOCAL_WRITE');
    }
    const key = ((this.#nextIndex++ << 8) | randomInt(256)) >>> 0;
    const addr = this.#nextAddr;
    const length = BigInt(buffer.byteLength);
    this.#nextAddr += ((length + PAGE - 1n) / PAGE) * PAGE + PAGE;
    const mr = new SoftMr(this, pd, key, key, addr, buffer, access);
    this.#byKey.set(key, mr);
    pd.users++;
    this.publication?.publish(mr);
    return mr;
  }

  remove(mr: SoftMr): void {
    if (!mr.valid) return;
    mr.valid = false;
    this.publication?.withdraw(mr);
    this.#byKey.delete(mr.lkey);
    mr.pd.users--;
    mr.onRemove?.(mr);
  }

  /** Invalidates every region (a device reset: the keys peers hold are worthless now). */
  clear(): void {
    for (const mr of [...this.#byKey.values()]) this.remove(mr);
  }

  /** Checks a key, PD, access right and range; returns the bytes or the fault. */
  resolve(key: number, pd: SoftPd, addr: bigint, length: number, need: AccessFlags): Window | AccessFault {
    const mr = this.#byKey.get(key);
    if (!mr) return 'KEY';
    if (mr.pd !== pd) return 'PD';
    if ((mr.access & need) !== need) return 'ACCESS';
    if (addr < mr.addr || addr + BigInt(length) > mr.addr + BigInt(mr.length)) return 'BOUNDS';
    const offset = Number(addr - mr.addr);
    return { bytes: mr.buffer.subarray(offset, offset + length) };
  }

  /** Gathers local SGEs into one buffer (send / RDMA write source), or the fault. */
  gather(pd: SoftPd, sges: readonly Sge[]): Uint8Array | AccessFault {
    if (sges.length === 1) {
      const w = this.resolve(sges[0]!.lkey, pd, sges[0]!.addr, sges[0]!.length, 0);
      return typeof w === 'string' ? w : w.bytes;
    }
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const s of sges) {
      const w = this.resolve(s.lkey, pd, s.addr, s.length, 0);
      if (typeof w === 'string') return w;
      parts.push(w.bytes);
      total += w.bytes.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /**
   * Scatters `data` into local SGEs that need LOCAL_WRITE (receive buffers, RDMA read targets).
   * Returns 'LENGTH' when the SGEs are too small.
   */
  scatter(pd: SoftPd, sges: readonly Sge[], data: Uint8Array): AccessFault | 'LENGTH' | undefined {
    return this.scatterFrom(pd, sges, data.length, (dst, at) => dst.set(data.subarray(at, at + dst.length)));
  }

  /**
   * As scatter, for `length` bytes that `copy` puts into each window (`at`: the offset of the
   * window's first byte in the data): the data may be in another process (CMA).
   */
  scatterFrom(
    pd: SoftPd,
    sges: readonly Sge[],
    length: number,
    copy: (dst: Uint8Array, at: number) => void,
  ): AccessFault | 'LENGTH' | undefined {
    let room = 0;
    for (const s of sges) room += s.length;
    if (room < length) return 'LENGTH';
    let at = 0;
    for (const s of sges) {
      if (at >= length) break;
      const w = this.resolve(s.lkey, pd, s.addr, s.length, Access.LOCAL_WRITE);
      if (typeof w === 'string') return w;
      const n = Math.min(s.length, length - at);
      copy(w.bytes.subarray(0, n), at);
      at += n;
    }
    return undefined;
  }

  /** The local buffer an RDMA read of one SGE lands in (LOCAL_WRITE checked), or the fault. */
  target(pd: SoftPd, sge: Sge): Uint8Array | AccessFault {
    const w = this.resolve(sge.lkey, pd, sge.addr, sge.length, Access.LOCAL_WRITE);
    return typeof w === 'string' ? w : w.bytes;
  }
}
