import { loadNative, type LoadOptions } from './load.js';
import type { NativePmix } from './native.js';

/** This process's place in the job, as the PMIx server tells it. */
export interface PmixJobInfo {
  readonly rank: number;
  readonly size: number;
  /** Rank among the job's processes on this node. */
  readonly localRank: number;
  readonly localSize: number;
  /** The job's ranks on this node (empty when the server does not say). */
  readonly localPeers: readonly number[];
  /** The launcher's name for this node (PMIX_HOSTNAME; '' when it gives none). */
  readonly nodeName: string;
  readonly nspace: string;
  /** PMIX_JOBID, or the nspace. */
  readonly jobId: string;
  /** The libpmix version string. */
  readonly version: string;
}

export interface FenceOptions {
  /** Bring every rank's committed data along (PMIX_COLLECT_DATA); default false. */
  readonly collect?: boolean;
}

/**
 * A PMIx client: the process's connection to its launcher's PMIx server. One per process (libpmix
 * keeps one global state). PMIx_Finalize runs on finalize(), and on process exit if it was not
 * called, because Slurm kills the whole step when a rank leaves without it.
 */
export class PmixClient {
  static #current: PmixClient | undefined;
  readonly info: PmixJobInfo;
  readonly #native: NativePmix;
  #finalized = false;
  readonly #onExit = () => this.finalize();

  private constructor(native: NativePmix) {
    this.#native = native;
    const raw = native.init();
    this.info = {
      ...raw,
      localPeers: raw.localPeers
        .split(',')
        .filter((p) => p !== '')
        .map(Number),
    };
    process.on('exit', this.#onExit);
  }

  /**
   * Loads the addon (PmixUnavailableError when it cannot) and connects to the PMIx server
   * (blocking; an Error with `pmixStatus` 'UNREACHABLE' when no server is there).
   */
  static init(options: LoadOptions = {}): PmixClient {
    if (PmixClient.#current && !PmixClient.#current.#finalized) return PmixClient.#current;
    PmixClient.#current = new PmixClient(loadNative(options));
    return PmixClient.#current;
  }

  get finalized(): boolean {
    return this.#finalized;
  }

  /** Publishes `value` under `key` for every rank; visible to them after commit() and a fence. */
  put(key: string, value: string | Uint8Array): void {
    this.#live('put');
    this.#native.put(key, typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }

  commit(): void {
    this.#live('commit');
    this.#native.commit();
  }

  /** Waits until every rank of the job has entered the fence; does not block the event loop. */
  fence(options: FenceOptions = {}): Promise<void> {
    this.#live('fence');
    return new Promise((resolve, reject) => this.#native.fence(options.collect === true, (error) => (error ? reject(error) : resolve())));
  }

  /** What `rank` put under `key` (a string, or a Buffer when it put bytes). */
  get(rank: number, key: string): Promise<string | Buffer> {
    this.#live('get');
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.info.size) {
      return Promise.reject(new RangeError(`get: no rank ${rank} in a job of size ${this.info.size}`));
    }
    return new Promise((resolve, reject) =>
      this.#native.get(rank, key, (error, value) => (error ? reject(error) : resolve(value as string | Buffer))),
    );
  }

  /** Asks the launcher to end the whole job with `status`, printing `message`. */
  abort(status: number, message: string): void {
    this.#live('abort');
    this.#native.abort(status, message);
  }

  /** Leaves the PMIx job; idempotent. */
  finalize(): void {
    if (this.#finalized) return;
    this.#finalized = true;
    process.off('exit', this.#onExit);
    this.#native.finalize();
  }

  #live(what: string): void {
    if (this.#finalized) throw new Error(`PMIx ${what}: this client was finalized`);
  }
}
