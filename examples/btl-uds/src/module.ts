import { BtlFlag, type BtlEndpoint, type BtlHost, type BtlModule, type BtlProc, type SendCompletion } from '@switchyard/core-bml';

export interface UdsModuleOptions {
  readonly rank: number;
  readonly size: number;
  readonly jobId: string;
  /** Authenticate every connection you accept with it. */
  readonly secret: string;
  readonly host: BtlHost;
  readonly exclusivity: number;
  readonly latency: number;
  readonly bandwidth: number;
  readonly eagerLimit: number;
  readonly maxSendSize: number;
  readonly highWaterMark: number;
}

const GUIDE = 'docs/writing-a-btl.md in the Switchyard repository';

/** Thrown by every part of the skeleton still to be written: says what to write next. */
export class NotImplementedYet extends Error {
  override readonly name = 'NotImplementedYet';

  constructor(what: string, next: string, section: string) {
    super(`btl uds: ${what} is not implemented yet (src/module.ts). Next: ${next} (see "${section}" in ${GUIDE})`);
  }
}

/**
 * One 'uds' module: one instance of the transport (one per device or interface, if the
 * transport has several). Nothing here may block the event loop.
 */
export class UdsModule implements BtlModule {
  readonly component = 'uds';
  readonly name = 'uds';
  // SEND: carries fragments. Add BtlFlag.ORDERED only if fragments to one peer arrive in the
  // order sent (the conformance kit checks it), PUT/GET only with registerMemory/put/get.
  readonly flags = BtlFlag.SEND;
  readonly exclusivity: number;
  readonly latency: number;
  readonly bandwidth: number;
  readonly eagerLimit: number;
  readonly maxSendSize: number;
  readonly #options: UdsModuleOptions;

  constructor(options: UdsModuleOptions) {
    this.#options = options;
    this.exclusivity = options.exclusivity;
    this.latency = options.latency;
    this.bandwidth = options.bandwidth;
    this.eagerLimit = options.eagerLimit;
    this.maxSendSize = options.maxSendSize;
  }

  /** Called by the component's init: acquire what peers need to reach you (listen, open a device). */
  async start(): Promise<void> {
    throw new NotImplementedYet(
      'start()',
      'acquire what peers need to reach this rank (e.g. listen on a socket) and remember its address for businessCard',
      'Modex and connection',
    );
  }

  /** Published in the modex; each peer's addProcs receives it in `proc.cards`. JSON only. */
  get businessCard(): unknown {
    throw new NotImplementedYet('businessCard', 'return a JSON object with this module\'s address (and a host identity if peers must share a host)', 'Modex and connection');
  }

  async addProcs(procs: readonly BtlProc[]): Promise<Array<BtlEndpoint | undefined>> {
    throw new NotImplementedYet(
      `addProcs() (${procs.length} procs)`,
      'for each proc, parse its card from proc.cards and return an endpoint { rank, module: this } if this module reaches it, or undefined (logged with the reason through host.log); connect lazily',
      'Modex and connection',
    );
  }

  async delProcs(endpoints: readonly BtlEndpoint[]): Promise<void> {
    throw new NotImplementedYet(
      `delProcs() (${endpoints.length} endpoints)`,
      'close the connections to these peers in order and forget them',
      'The module contract',
    );
  }

  send(endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[], done?: SendCompletion): boolean {
    void done;
    throw new NotImplementedYet(
      `send() (tag ${tag}, ${segments.length} segments, to rank ${endpoint.rank})`,
      'queue the fragment (never throw, never block), deliver it whole to the peer\'s host.receive(endpoint, tag, data), call done() once the segments may be reused, and return false above the high-water mark (then call host.writable(endpoint) once below it)',
      'Progress and back-pressure',
    );
  }

  async flush(endpoint?: BtlEndpoint): Promise<void> {
    throw new NotImplementedYet(
      `flush(${endpoint ? `rank ${endpoint.rank}` : ''})`,
      'resolve once every send issued before the call (to this endpoint, or to all) has completed',
      'The module contract',
    );
  }

  async finalize(): Promise<void> {
    // Release everything: sockets, listeners, timers, files. No handle may stay open once this
    // resolves (the kit checks). The skeleton holds nothing yet.
    void this.#options;
  }
}
