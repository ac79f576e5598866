import {
  BtlFlag,
  type BtlEndpoint,
  type BtlHost,
  type BtlModule,
  type BtlProc,
  type BtlRegistration,
  type SendCompletion,
} from '@switchyard/btl-interface';
import {
  Access,
  type AsyncEvent,
  type CompletionQueue,
  type PortInfo,
  type ProtectionDomain,
  type QueuePair,
  type VerbsContext,
  type VerbsProvider,
  type WorkCompletion,
} from '@switchyard/verbs';
import { refuseLater } from '@switchyard/btl-base';
import { parseCard, unreachableBecause, type OpenibCard } from './card.js';
import { OpenibEndpoint, qpCaps } from './endpoint.js';
import { OpenibError, OpenibErrorCodes, type OpenibErrorCode } from './errors.js';
import type { OpenibSettings } from './params.js';

export interface OpenibModuleOptions {
  readonly provider: VerbsProvider;
  readonly device: string;
  readonly port: number;
  readonly rank: number;
  readonly size: number;
  readonly hostname: string;
  readonly host: BtlHost;
  readonly settings: OpenibSettings;
  readonly log: (message: string) => void;
}

/** What `registerMemory` hands out: travels to the peer in a message, so JSON only. */
export interface OpenibRemoteHandle {
  readonly addr: string;
  readonly rkey: number;
  readonly length: number;
}

/**
 * One openib module per active port: its own device context, protection domain and one
 * completion queue for every QP (both queues), and one RC QP per rank, created at init so their
 * numbers can go in the business card.
 */
export class OpenibModule implements BtlModule {
  readonly component = 'openib';
  readonly name: string;
  readonly exclusivity: number;
  readonly latency: number;
  readonly bandwidth: number;
  readonly eagerLimit: number;
  readonly maxSendSize: number;
  readonly rdmaPipelineSendLength: number;
  readonly flags = BtlFlag.SEND | BtlFlag.PUT | BtlFlag.GET;
  businessCard: OpenibCard;

  readonly #o: OpenibModuleOptions;
  readonly #ctx: VerbsContext;
  readonly #pd: ProtectionDomain;
  readonly #cq: CompletionQueue;
  readonly #port: PortInfo;
  /** QP for each rank (undefined for our own, and once its endpoint is deleted). */
  readonly #qps: Array<QueuePair | undefined>;
  readonly #byQpn = new Map<number, OpenibEndpoint>();
  readonly #byHandle = new Map<BtlEndpoint, OpenibEndpoint>();
  #finalized = false;
  /** Set once the device or port failed: the module is unusable, and every operation fails with it. */
  #fatal?: OpenibError;

  /** Opens the device and creates the QPs; throws (VerbsError) if a verbs call fails. */
  constructor(options: OpenibModuleOptions) {
    const { provider, device, port, rank, size, settings } = options;
    this.#o = options;
    this.name = `openib:${device}:${port}`;
    this.exclusivity = settings.exclusivity;
    this.latency = settings.latency;
    this.bandwidth = settings.bandwidth;
    this.eagerLimit = settings.eagerLimit;
    this.maxSendSize = settings.maxSendSize;
    this.rdmaPipelineSendLength = settings.rdmaPipelineSendLength;

    this.#ctx = provider.open(device, { onAsyncEvent: (e) => this.#onAsyncEvent(e) });
    try {
      this.#port = this.#ctx.queryPort(port);
      if (this.#port.state !== 'ACTIVE')
        throw new OpenibError(OpenibErrorCodes.PORT_DOWN, `btl openib: port ${port} of ${device} is ${this.#port.state}`);
      this.#pd = this.#ctx.allocPd();
      const caps = qpCaps(settings);
      const depth = Math.min(65_536, Math.max(64, (size - 1) * (caps.maxSendWr + caps.maxRecvWr)));
      this.#cq = this.#ctx.createCompletionQueue(depth, (wcs) => this.#onCompletions(wcs));
      // As every transport's handles: the PML holds the loop while a request waits on traffic.
      this.#cq.unref();
      this.#qps = Array.from({ length: size }, (_, r) =>
        r === rank ? undefined : this.#ctx.createQueuePair(this.#pd, this.#cq, this.#cq, { ...caps, maxSendSge: 1, maxRecvSge: 1 }),
      );
    } catch (err) {
      this.#ctx.close();
      throw err;
    }
    this.businessCard = {
      provider: provider.name,
      hostname: options.hostname,
      device,
      port,
      lid: this.#port.lid,
      gid: this.#port.gid,
      linkLayer: this.#port.linkLayer,
      mtu: this.#port.mtu,
      qpns: this.#qps.map((qp) => qp?.qpn ?? 0),
      recvBuffers: settings.recvBuffers,
      maxSendSize: settings.maxSendSize,
    };
  }

  async addProcs(procs: readonly BtlProc[]): Promise<Array<BtlEndpoint | undefined>> {
    return procs.map((proc) => {
      if (this.#finalized || this.#fatal || proc.rank === this.#o.rank) return undefined;
      const existing = [...this.#byHandle.values()].find((e) => e.rank === proc.rank);
      if (existing) return existing.handle;
      const qp = this.#qps[proc.rank];
      const card = this.#pickCard(proc);
      if (!qp || !card) return undefined;
      const endpoint = new OpenibEndpoint(proc.rank, qp, {
        module: this,
        host: this.#o.host,
        ctx: this.#ctx,
        pd: this.#pd,
        port: this.#port,
        rank: this.#o.rank,
        settings: this.#o.settings,
        log: this.#o.log,
        failed: (e, error) => this.#endpointFailed(e, error),
      });
      this.#byQpn.set(qp.qpn, endpoint);
      try {
        endpoint.connect(card);
      } catch (err) {
        this.#o.log(`btl openib: cannot set up the QP to rank ${proc.rank}: ${(err as Error).message}`);
        this.#byQpn.delete(qp.qpn);
        endpoint.close();
        this.#qps[proc.rank] = undefined;
        return undefined;
      }
      this.#byHandle.set(endpoint.handle, endpoint);
      return endpoint.handle;
    });
  }

  /**
   * A peer that is late to add_procs drops our HELLO and costs a retransmit timeout (67 ms by
   * default): the BML keeps sending on the transports already up until the link is.
   */
  async connected(handle: BtlEndpoint): Promise<void> {
    await this.#byHandle.get(handle)?.settled;
  }

  /** The peer's card for our port: its module at our index if compatible, else the first that is. */
  #pickCard(proc: BtlProc): OpenibCard | undefined {
    const own = { provider: this.#o.provider.name, port: this.#port };
    const usable: OpenibCard[] = [];
    const why: string[] = [];
    for (const parsed of proc.cards.map((c) => parseCard(c, this.#o.size))) {
      if ('problem' in parsed) {
        why.push(parsed.problem);
        continue;
      }
      const problem =
        unreachableBecause(own, parsed.card, proc.local) ??
        (parsed.card.qpns[this.#o.rank]! > 0 ? undefined : 'it has no queue pair for us');
      if (problem) why.push(`${parsed.card.device}:${parsed.card.port}: ${problem}`);
      else usable.push(parsed.card);
    }
    if (!usable.length)
      this.#o.log(`btl openib: rank ${proc.rank} on ${proc.hostname} is unreachable: ${why.join('; ') || 'it published no openib card'}`);
    return usable.find((c) => c.device === this.#o.device && c.port === this.#o.port) ?? usable[0];
  }

  /**
   * Peers are loading openib anew while this module stays (`ctl load openib --ranks …`): every
   * rank whose QP was deleted gets a new one, and the card with its QPN is published again.
   */
  refreshBusinessCard(): OpenibCard {
    if (this.#finalized || this.#fatal) return this.businessCard;
    // A reset whose DEVICE_FATAL this process has not read yet: new QPs on a dead context would
    // be published, and a peer loading anew would wait its connect_timeout for them.
    const problem = this.#deviceProblem();
    if (problem) {
      this.#moduleFailed(problem.code, problem.text);
      return this.businessCard;
    }
    const caps = qpCaps(this.#o.settings);
    for (let r = 0; r < this.#qps.length; r++) {
      if (r === this.#o.rank || this.#qps[r]) continue;
      this.#qps[r] = this.#ctx.createQueuePair(this.#pd, this.#cq, this.#cq, { ...caps, maxSendSge: 1, maxRecvSge: 1 });
    }
    this.businessCard = { ...this.businessCard, qpns: this.#qps.map((qp) => qp?.qpn ?? 0) };
    return this.businessCard;
  }

  async delProcs(endpoints: readonly BtlEndpoint[]): Promise<void> {
    for (const handle of endpoints) {
      const endpoint = this.#byHandle.get(handle);
      if (!endpoint) continue;
      this.#byHandle.delete(handle);
      this.#byQpn.delete(endpoint.qp.qpn);
      // Its QPN was published once; a re-added peer gets a new QP from refreshBusinessCard.
      this.#qps[endpoint.rank] = undefined;
      endpoint.close();
    }
  }

  send(endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[], done?: SendCompletion): boolean {
    const e = this.#byHandle.get(endpoint);
    if (!e) {
      refuseLater(done, this.#fatal ?? new Error(`btl openib: no endpoint for rank ${endpoint.rank} on ${this.name}`));
      return true;
    }
    if (!Number.isInteger(tag) || tag < 0 || tag > 255) {
      refuseLater(done, new Error(`btl openib: tag ${tag} is not an 8-bit tag`));
      return true;
    }
    // The link's buffers may be larger (sized for the bigger of both ends): the limit is ours.
    const bytes = segments.reduce((n, s) => n + s.length, 0);
    if (bytes > this.maxSendSize) {
      refuseLater(done, new Error(`btl openib: fragment of ${bytes} bytes exceeds max_send_size ${this.maxSendSize}`));
      return true;
    }
    return e.send(tag, segments, done);
  }

  registerMemory(data: Uint8Array): BtlRegistration {
    const mr = this.#ctx.registerMemory(this.#pd, data, Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ);
    const handle: OpenibRemoteHandle = { addr: mr.addr.toString(), rkey: mr.rkey, length: mr.length };
    let released = false;
    return {
      handle,
      length: mr.length,
      release: () => {
        if (released) return;
        released = true;
        try {
          mr.deregister();
        } catch (err) {
          this.#o.log(`btl openib: deregistering memory: ${(err as Error).message}`);
        }
      },
    };
  }

  put(endpoint: BtlEndpoint, local: Uint8Array, remote: unknown, offset: number, done: SendCompletion): void {
    this.#rdma('RDMA_WRITE', endpoint, local, remote, offset, done);
  }

  get(endpoint: BtlEndpoint, local: Uint8Array, remote: unknown, offset: number, done: SendCompletion): void {
    this.#rdma('RDMA_READ', endpoint, local, remote, offset, done);
  }

  #rdma(
    opcode: 'RDMA_WRITE' | 'RDMA_READ',
    endpoint: BtlEndpoint,
    local: Uint8Array,
    remote: unknown,
    offset: number,
    done: SendCompletion,
  ): void {
    const e = this.#byHandle.get(endpoint);
    if (!e) return done(this.#fatal ?? new Error(`btl openib: no endpoint for rank ${endpoint.rank} on ${this.name}`));
    const target = parseRemote(remote);
    if (typeof target === 'string') return done(new Error(`btl openib: ${target}`));
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + local.length > target.length) {
      return done(new Error(`btl openib: ${local.length} bytes at offset ${offset} exceed the remote registration of ${target.length}`));
    }
    e.rdma(opcode, local, { addr: target.addr + BigInt(offset), rkey: target.rkey }, done);
  }

  async flush(endpoint?: BtlEndpoint): Promise<void> {
    const targets = endpoint ? [this.#byHandle.get(endpoint)].filter((e) => e !== undefined) : [...this.#byHandle.values()];
    await Promise.all(targets.map((e) => e.flush()));
  }

  async finalize(): Promise<void> {
    if (this.#finalized) return;
    this.#finalized = true;
    await this.delProcs([...this.#byHandle.keys()]);
    for (const qp of this.#qps) {
      try {
        qp?.destroy();
      } catch {
        // closing the context below releases it anyway
      }
    }
    // Closing the context destroys the CQ, PD and anything left, in the right order.
    try {
      this.#ctx.close();
    } catch (err) {
      this.#o.log(`btl openib: closing ${this.#o.device}: ${(err as Error).message}`);
    }
  }

  #onCompletions(wcs: WorkCompletion[]): void {
    for (const wc of wcs) this.#byQpn.get(wc.qpn)?.onCompletion(wc);
  }

  #onAsyncEvent(event: AsyncEvent): void {
    const { device, port } = this.#o;
    if (event.type === 'DEVICE_FATAL')
      return this.#moduleFailed(OpenibErrorCodes.DEVICE_FAILED, `device ${device} failed or was reset (DEVICE_FATAL)`);
    if (event.type === 'PORT_ERR' && event.port === port)
      return this.#moduleFailed(OpenibErrorCodes.PORT_DOWN, `port ${port} of ${device} went down (PORT_ERR)`);
    this.#o.log(`btl openib: ${this.name}: async event ${event.type}${event.qpn !== undefined ? ` on QP ${event.qpn}` : ''}`);
  }

  /**
   * A link failed. When the cause is the device itself (reset, removed, port down: what a VM
   * migration or a pulled cable does) every link fails at once; report that once, as the
   * module's fatal error, rather than as many endpoint errors. Either way the endpoint's work
   * completes with the error first.
   */
  #endpointFailed(endpoint: OpenibEndpoint, error: OpenibError): void {
    if (this.#finalized || this.#fatal) return endpoint.abandon(this.#fatal ?? error);
    const problem = this.#deviceProblem();
    if (problem) return this.#moduleFailed(problem.code, problem.text);
    endpoint.abandon(error);
    this.#o.host.error({ module: this, endpoint: endpoint.handle, severity: 'endpoint', error });
  }

  #deviceProblem(): { code: OpenibErrorCode; text: string } | undefined {
    const { device, port } = this.#o;
    try {
      const state = this.#ctx.queryPort(port).state;
      return state === 'ACTIVE' ? undefined : { code: OpenibErrorCodes.PORT_DOWN, text: `port ${port} of ${device} is ${state}` };
    } catch (err) {
      return { code: OpenibErrorCodes.DEVICE_FAILED, text: `device ${device} failed or was reset (${(err as Error).message})` };
    }
  }

  #moduleFailed(code: OpenibErrorCode, problem: string): void {
    if (this.#finalized || this.#fatal) return;
    const error = new OpenibError(code, `btl openib: ${this.name}: ${problem}; every link of this module is lost`);
    this.#fatal = error;
    for (const e of this.#byHandle.values()) e.abandon(error);
    this.#o.host.error({ module: this, severity: 'fatal', error });
  }
}

function parseRemote(remote: unknown): { addr: bigint; rkey: number; length: number } | string {
  if (remote === null || typeof remote !== 'object') return 'the remote handle is not an openib registration';
  const { addr, rkey, length } = remote as Record<string, unknown>;
  if (typeof addr !== 'string' || !/^\d+$/.test(addr)) return 'remote handle without a valid addr';
  if (typeof rkey !== 'number' || !Number.isInteger(rkey) || rkey < 0 || rkey > 0xffff_ffff) return 'remote handle without a valid rkey';
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) return 'remote handle without a valid length';
  return { addr: BigInt(addr), rkey, length };
}
