import { createHook } from 'node:async_hooks';
import { connect, type Socket } from 'node:net';
import type { BtlEndpoint, BtlErrorEvent, BtlHost, BtlProc } from '@switchyard/btl-interface';
import { ParamRegistry, ParamStore, type ComponentParams } from '@switchyard/mca';
import component, {
  acceptMac,
  decodeChallenge,
  encodeControl,
  encodeMessage,
  FrameDecoder,
  FrameType,
  responseMac,
  type TcpCard,
  type TcpModule,
} from '../src/index.js';

export const JOB = 'job-7f3a';
export const SECRET = 'b3f1c0de-secret-of-the-test-job';

/** The component's parameters as the MCA would resolve them, with `settings` given on the command line. */
export function tcpParams(settings: Record<string, unknown> = {}): ComponentParams {
  const store = new ParamStore();
  for (const [name, raw] of Object.entries(settings)) store.add({ name: `btl_tcp_${name}`, raw, source: 'command-line' });
  const registry = new ParamRegistry(store);
  component.register!({
    framework: 'btl',
    component: 'tcp',
    param: (spec) => registry.register({ ...spec, name: `btl_tcp_${spec.name}`, owner: { framework: 'btl', component: 'tcp' } }),
  });
  registry.assertValid();
  return { get: <T>(name: string) => registry.get<T>(`btl_tcp_${name}`), fullName: (name) => `btl_tcp_${name}` };
}

export interface Received {
  readonly from: number;
  readonly tag: number;
  readonly data: Buffer;
}

/** A BtlHost that records what the module tells it. */
export class RecordingHost implements BtlHost {
  readonly received: Received[] = [];
  readonly writables: number[] = [];
  readonly errors: BtlErrorEvent[] = [];
  readonly logs: string[] = [];
  /** Replaces recording of received fragments (for bulk traffic). */
  sink: ((from: number, tag: number, data: Uint8Array) => void) | undefined;
  onWritable: ((endpoint: BtlEndpoint) => void) | undefined;

  receive(endpoint: BtlEndpoint, tag: number, data: Uint8Array): void {
    if (this.sink) this.sink(endpoint.rank, tag, data);
    else this.received.push({ from: endpoint.rank, tag, data: Buffer.from(data) });
  }
  writable(endpoint: BtlEndpoint): void {
    this.writables.push(endpoint.rank);
    this.onWritable?.(endpoint);
  }
  error(event: BtlErrorEvent): void {
    this.errors.push(event);
  }
  log(message: string): void {
    this.logs.push(message);
    if (process.env.BTL_TCP_TEST_VERBOSE) process.stderr.write(`${message}\n`);
  }
  logged(pattern: RegExp): boolean {
    return this.logs.some((l) => pattern.test(l));
  }
}

export interface Rank {
  readonly rank: number;
  readonly module: TcpModule;
  readonly host: RecordingHost;
  readonly card: TcpCard;
  /** Endpoints by peer rank, after `connectAll`. */
  readonly endpoints: Map<number, BtlEndpoint>;
  ep(peer: number): BtlEndpoint;
}

export interface RankOptions {
  settings?: Record<string, unknown>;
  secret?: string;
  jobId?: string;
  hostname?: string;
}

/** Opens and initialises the component as rank `rank` of a job of `size` would. */
export async function startRank(rank: number, size: number, options: RankOptions = {}): Promise<Rank> {
  const params = tcpParams({ handshake_timeout: 2000, ...options.settings });
  const host = new RecordingHost();
  const open = await component.open!({ framework: 'btl', component: 'tcp', params, log: (m) => host.log(m) });
  if (open && !open.available) throw new Error(`tcp declined: ${open.reason}`);
  const [module] = (await component.init({
    jobId: options.jobId ?? JOB,
    rank,
    size,
    hostname: options.hostname ?? 'testhost',
    secret: options.secret ?? SECRET,
    params,
    host,
    log: (m) => host.log(m),
  })) as TcpModule[];
  const endpoints = new Map<number, BtlEndpoint>();
  return {
    rank,
    module: module!,
    host,
    card: module!.businessCard,
    endpoints,
    ep(peer) {
      const e = endpoints.get(peer);
      if (!e) throw new Error(`rank ${rank} has no endpoint for ${peer}`);
      return e;
    },
  };
}

export function procsOf(ranks: readonly Rank[], local = true): BtlProc[] {
  return ranks.map((r) => ({ rank: r.rank, hostname: 'testhost', local, cards: [r.card] }));
}

/** Adds every rank's procs to `rank` (what the BML does after the modex). */
export async function addAll(rank: Rank, ranks: readonly Rank[]): Promise<void> {
  const procs = procsOf(ranks);
  const eps = await rank.module.addProcs(procs);
  eps.forEach((e, i) => {
    if (e) rank.endpoints.set(procs[i]!.rank, e);
  });
}

export async function startJob(size: number, options: RankOptions = {}): Promise<Rank[]> {
  const ranks: Rank[] = [];
  for (let r = 0; r < size; r++) ranks.push(await startRank(r, size, options));
  for (const r of ranks) await addAll(r, ranks);
  return ranks;
}

export async function stopAll(ranks: readonly Rank[]): Promise<void> {
  await Promise.all(ranks.map((r) => r.module.finalize()));
}

/** Sends and resolves when the send completed, with its error if any. */
export function sendAndWait(rank: Rank, to: number, tag: number, segments: Uint8Array[]): Promise<Error | undefined> {
  return new Promise((resolve) => rank.module.send(rank.ep(to), tag, segments, (err) => resolve(err)));
}

export async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sockets and servers open now, by async_hooks type: the module's are unref'd, which process.getActiveResourcesInfo() does not list. */
const openSockets = new Map<number, string>();
const SOCKET_KINDS: Record<string, string> = { TCPSERVERWRAP: 'TCPServerWrap', TCPWRAP: 'TCPSocketWrap', PIPEWRAP: 'PipeWrap' };
createHook({
  init: (id, type) => {
    const kind = SOCKET_KINDS[type];
    if (kind) openSockets.set(id, kind);
  },
  destroy: (id) => void openSockets.delete(id),
}).enable();

/** Handles this test file may leave behind: sockets, servers (open ones, ref'd or not), timers (ref'd ones). */
export function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  const add = (kind: string) => (counts[kind] = (counts[kind] ?? 0) + 1);
  for (const kind of process.getActiveResourcesInfo()) if (kind === 'Timeout') add(kind);
  for (const kind of openSockets.values()) add(kind);
  return counts;
}

export function seqFrame(seq: number, length = 4): Buffer {
  const b = Buffer.alloc(Math.max(4, length));
  b.writeUInt32BE(seq, 0);
  return b;
}

/** A raw client speaking the wire protocol by hand: to play a misbehaving or impostor peer. */
export class RawPeer {
  readonly socket: Socket;
  readonly frames: Array<{ type: number; tag: number; payload: Buffer }> = [];
  closed = false;
  readonly closedPromise: Promise<void>;
  readonly #decoder = new FrameDecoder((type, tag, payload) => this.frames.push({ type, tag, payload: Buffer.from(payload) }), 1 << 30);

  constructor(port: number, address = '127.0.0.1') {
    this.socket = connect({ host: address, port });
    this.socket.on('error', () => {});
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.#decoder.push(chunk);
      } catch {
        this.socket.destroy();
      }
    });
    this.closedPromise = new Promise((resolve) =>
      this.socket.on('close', () => {
        this.closed = true;
        resolve();
      }),
    );
  }

  async frame(type: number, timeoutMs = 3000): Promise<Buffer> {
    await until(`frame type ${type}`, () => this.frames.some((f) => f.type === type) || this.closed, timeoutMs);
    const f = this.frames.find((x) => x.type === type);
    if (!f) throw new Error(`connection closed before a frame of type ${type}`);
    return f.payload;
  }

  /** Answers the challenge as `from` of `job` with `secret`; resolves with the next frame type (ACCEPT/REJECT) or 'closed'. */
  async authenticate(from: number, to: number, opts: { job?: string; secret?: string } = {}): Promise<number | 'closed'> {
    const challenge = decodeChallenge(await this.frame(FrameType.CHALLENGE));
    const job = opts.job ?? JOB;
    const nonce = 'ab'.repeat(32);
    const mac = responseMac(opts.secret ?? SECRET, job, from, to, challenge.nonce);
    this.socket.write(encodeControl(FrameType.RESPONSE, encodeMessage({ job, from, to, nonce, mac })));
    await until('handshake answer', () => this.frames.length > 1 || this.closed);
    const answer = this.frames[1];
    if (!answer) return 'closed';
    if (answer.type === FrameType.ACCEPT) {
      const expected = acceptMac(opts.secret ?? SECRET, job, to, from, nonce, challenge.nonce);
      if (JSON.parse(answer.payload.toString()).mac !== expected) throw new Error('acceptor did not prove itself');
    }
    return answer.type;
  }

  write(data: Uint8Array): void {
    this.socket.write(data);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * A hand-written listener playing a peer rank: it runs the acceptor side of the handshake and
 * then does what `policy` says (accept and stop reading; turn the caller down as the winner of
 * a simultaneous connect).
 */
export async function fakeAcceptor(
  rank: number,
  policy: 'accept-and-stall' | 'reject-collision',
): Promise<{ port: number; card: TcpCard; sockets: Socket[]; close(): Promise<void> }> {
  const { createServer } = await import('node:net');
  const { newNonce } = await import('../src/handshake.js');
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    const nonce = newNonce();
    let answered = false;
    const decoder = new FrameDecoder((type, _tag, payload) => {
      if (type !== FrameType.RESPONSE || answered) return;
      answered = true;
      const r = JSON.parse(Buffer.from(payload).toString());
      if (policy === 'reject-collision') {
        socket.end(encodeControl(FrameType.REJECT, encodeMessage({ reason: 'collision' })));
        return;
      }
      socket.write(encodeControl(FrameType.ACCEPT, encodeMessage({ mac: acceptMac(SECRET, JOB, rank, r.from, r.nonce, nonce) })));
      socket.pause();
    }, 1 << 30);
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.write(encodeControl(FrameType.CHALLENGE, encodeMessage({ protocol: 'switchyard-btl-tcp/1', nonce })));
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    sockets,
    card: {
      hostname: 'testhost',
      maxSendSize: 128 * 1024,
      addresses: [{ address: '127.0.0.1', family: 'IPv4', port, cidr: '127.0.0.1/8' }],
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
