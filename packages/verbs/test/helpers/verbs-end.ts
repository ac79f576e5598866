import { afterEach } from 'vitest';
import { Access, sge } from '../../src/constants.js';
import type {
  AsyncEvent,
  CompletionQueue,
  MemoryRegion,
  ProtectionDomain,
  QpAttrs,
  QueuePair,
  VerbsContext,
  VerbsProvider,
  WorkCompletion,
} from '../../src/types.js';

/** One side of an RC connection for tests: context, PD, CQs, a QP, and what its CQs delivered. */
export interface End {
  readonly ctx: VerbsContext;
  readonly pd: ProtectionDomain;
  readonly sendCq: CompletionQueue;
  readonly recvCq: CompletionQueue;
  readonly qp: QueuePair;
  readonly sent: WorkCompletion[];
  readonly received: WorkCompletion[];
  readonly events: AsyncEvent[];
  /** Registers `size` bytes with LOCAL_WRITE | REMOTE_WRITE | REMOTE_READ unless told otherwise. */
  mr(size: number, access?: number): MemoryRegion;
  close(): void;
}

export function openEnd(provider: VerbsProvider, caps = { maxSendWr: 64, maxRecvWr: 64, maxSendSge: 4, maxRecvSge: 4 }): End {
  const events: AsyncEvent[] = [];
  const ctx = provider.open(provider.listDevices()[0]!.name, { onAsyncEvent: (e) => events.push(e) });
  const pd = ctx.allocPd();
  const sent: WorkCompletion[] = [];
  const received: WorkCompletion[] = [];
  const sendCq = ctx.createCompletionQueue(256, (wcs) => sent.push(...wcs));
  const recvCq = ctx.createCompletionQueue(256, (wcs) => received.push(...wcs));
  const qp = ctx.createQueuePair(pd, sendCq, recvCq, caps);
  return {
    ctx,
    pd,
    sendCq,
    recvCq,
    qp,
    sent,
    received,
    events,
    mr: (size, access = Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ) =>
      ctx.registerMemory(pd, new Uint8Array(size), access),
    close: () => ctx.close(),
  };
}

/** RESET → INIT → RTR → RTS on both sides, each pointed at the other (QPN + GID, as a business card carries). */
export function connect(a: End, b: End, attrs: QpAttrs = {}, attrsB: QpAttrs = attrs): void {
  for (const [self, peer, extra] of [
    [a, b, attrs],
    [b, a, attrsB],
  ] as const) {
    const port = self.ctx.queryPort(1);
    const peerPort = peer.ctx.queryPort(1);
    self.qp.modify('INIT', { port: 1, ...extra });
    self.qp.modify('RTR', { remoteQpn: peer.qp.qpn, dest: { lid: peerPort.lid, gid: peerPort.gid }, pathMtu: port.mtu, ...extra });
  }
  a.qp.modify('RTS', attrs);
  b.qp.modify('RTS', attrsB);
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export { sge };

/** An `end(provider)` for a test file: every end it opens is closed after each test. */
export function endsClosedAfterEach(): (provider: VerbsProvider) => End {
  const opened: End[] = [];
  afterEach(() => {
    for (const e of opened.splice(0)) e.close();
  });
  return (provider) => {
    const e = openEnd(provider);
    opened.push(e);
    return e;
  };
}
