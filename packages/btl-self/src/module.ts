import { refuseLater, soon, type BaseSettings } from '@switchyard/btl-base';
import { BtlFlag, type BtlEndpoint, type BtlHost, type BtlModule, type BtlProc, type SendCompletion } from '@switchyard/btl-interface';

export type SelfLimits = BaseSettings;

interface Pending {
  readonly endpoint: BtlEndpoint;
  readonly tag: number;
  readonly data: Uint8Array;
}

/**
 * The loopback of a rank to itself. Delivery is deferred to a microtask rather than made inside
 * `send`, so the layer above never sees a receive callback re-enter its own send path.
 */
export class SelfModule implements BtlModule {
  readonly component = 'self';
  readonly name = 'self';
  readonly exclusivity: number;
  readonly latency: number;
  readonly bandwidth: number;
  readonly flags = BtlFlag.SEND | BtlFlag.ORDERED;
  readonly businessCard = null;
  readonly eagerLimit: number;
  readonly maxSendSize: number;
  #endpoint?: BtlEndpoint;
  #queue: Pending[] = [];
  #scheduled = false;
  #finalized = false;

  constructor(
    readonly rank: number,
    readonly host: BtlHost,
    limits: SelfLimits,
  ) {
    this.exclusivity = limits.exclusivity;
    this.latency = limits.latency;
    this.bandwidth = limits.bandwidth;
    this.eagerLimit = limits.eagerLimit;
    this.maxSendSize = limits.maxSendSize;
  }

  async addProcs(procs: readonly BtlProc[]): Promise<Array<BtlEndpoint | undefined>> {
    return procs.map((p) => {
      if (p.rank !== this.rank) {
        this.host.log(
          `btl self: rank ${p.rank}${p.local ? '' : ` on ${p.hostname}`} is unreachable: self reaches only this rank (${this.rank})`,
        );
        return undefined;
      }
      this.#endpoint ??= Object.freeze({ rank: this.rank, module: this });
      return this.#endpoint;
    });
  }

  async delProcs(endpoints: readonly BtlEndpoint[]): Promise<void> {
    if (endpoints.includes(this.#endpoint!)) this.#endpoint = undefined;
  }

  send(endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[], done?: SendCompletion): boolean {
    if (this.#finalized || endpoint !== this.#endpoint) {
      refuseLater(done, new Error(`btl self: endpoint for rank ${endpoint.rank} is not this rank's own`));
      return true;
    }
    if (!Number.isInteger(tag) || tag < 0 || tag > 255) {
      refuseLater(done, new Error(`btl self: tag ${tag} is not an 8-bit tag`));
      return true;
    }
    // One copy: the caller may reuse its segments as soon as done() runs.
    const data = concat(segments);
    if (data.length > this.maxSendSize) {
      refuseLater(done, new Error(`btl self: fragment of ${data.length} bytes exceeds max_send_size ${this.maxSendSize}`));
      return true;
    }
    this.#queue.push({ endpoint, tag, data });
    done?.();
    if (!this.#scheduled) {
      this.#scheduled = true;
      soon(this.#deliverQueued);
    }
    return true;
  }

  /** Delivers what is queued now: a busy-polling wait on a message to itself need not wait for the microtask. */
  progress(): number {
    const n = this.#queue.length;
    if (n) this.#deliverQueued();
    return n;
  }

  async flush(): Promise<void> {
    // Sends complete at once; delivery of the queue happens before any later macrotask.
    await Promise.resolve();
  }

  async finalize(): Promise<void> {
    this.#finalized = true;
    this.#queue = [];
    this.#endpoint = undefined;
  }

  readonly #deliverQueued = (): void => {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    for (const { endpoint, tag, data } of queue) this.host.receive(endpoint, tag, data);
  };
}

/**
 * One copy of the fragment, off V8's heap: a small `new Uint8Array` lives in the heap, and the
 * receiver's first `subarray` of it (the PML's view of the payload past its header) moves it out,
 * which cost a microsecond a message. Buffer's pool hands out off-heap slices.
 */
function concat(segments: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const s of segments) length += s.length;
  const out = Buffer.allocUnsafe(length);
  let offset = 0;
  for (const s of segments) {
    out.set(s, offset);
    offset += s.length;
  }
  return out;
}
