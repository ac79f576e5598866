import { afterEach, describe, expect, it } from 'vitest';
import { CONTROL_LIMIT, encodeControl, encodeHeader, FrameType } from '../src/index.js';
import { unauthenticatedLimit } from '../src/module.js';
import { addAll, fakeAcceptor, RawPeer, sendAndWait, startJob, startRank, stopAll, until, type Rank } from './helpers.js';

let job: Rank[] = [];
const raws: RawPeer[] = [];
afterEach(async () => {
  for (const r of raws.splice(0)) r.destroy();
  await stopAll(job);
  job = [];
});

function port(rank: Rank): number {
  return rank.card.addresses.find((a) => a.address === '127.0.0.1')!.port;
}

function raw(rank: Rank): RawPeer {
  const r = new RawPeer(port(rank));
  raws.push(r);
  return r;
}

async function stillExchanging(a: Rank, b: Rank, text: string): Promise<void> {
  const before = b.host.received.length;
  expect(await sendAndWait(a, b.rank, 0x80, [Buffer.from(text)])).toBeUndefined();
  await until('a fragment after the intrusion', () => b.host.received.length > before);
  expect(b.host.received.at(-1)!.data.toString()).toBe(text);
}

describe('connection authentication', () => {
  it('closes and logs a client that sends garbage; the ranks keep exchanging', async () => {
    job = await startJob(2);
    const [a, b] = job as [Rank, Rank];
    await stillExchanging(a, b, 'before');
    const intruder = raw(a);
    intruder.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await intruder.closedPromise;
    await until('the log', () => a.host.logged(/dropped connection from 127\.0\.0\.1:\d+: bad magic/));
    await stillExchanging(a, b, 'after');
    await stillExchanging(b, a, 'and back');
    expect(a.host.errors).toEqual([]);
  });

  it('drops a client that never completes the handshake, after handshake_timeout', async () => {
    job = await startJob(1, { settings: { handshake_timeout: 200 } });
    const silent = raw(job[0]!);
    const started = Date.now();
    await silent.closedPromise;
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await until('the log', () => job[0]!.host.logged(/handshake not completed within 200 ms/));
  });

  it('rejects a peer with the wrong secret, both as caller and as listener', async () => {
    const a = await startRank(0, 2);
    const b = await startRank(1, 2, { secret: 'not-the-job-secret' });
    job = [a, b];
    for (const r of job) await addAll(r, job);
    const err = await sendAndWait(b, 0, 0x80, [Buffer.from('let me in')]);
    expect(err?.message).toMatch(/cannot connect to rank 0/);
    await until('the log', () => a.host.logged(/authentication failed for a caller claiming rank 1 \(wrong job secret\)/));
    expect(b.host.errors).toMatchObject([{ severity: 'endpoint', endpoint: { rank: 0 } }]);
    // The other way round the impostor is the listener: the caller sees it cannot prove itself.
    const err2 = await sendAndWait(a, 1, 0x80, [Buffer.from('secret stuff')]);
    expect(err2?.message).toMatch(/cannot connect to rank 1/);
    expect(b.host.received).toEqual([]);
    expect(a.host.received).toEqual([]);
    expect(a.host.errors).toMatchObject([{ severity: 'endpoint', endpoint: { rank: 1 } }]);
  });

  it('rejects a caller of another job, one addressing another rank, or claiming a rank outside the job', async () => {
    job = await startJob(2);
    const [a] = job as [Rank];
    const cases: Array<[Parameters<RawPeer['authenticate']>, RegExp]> = [
      [[1, 0, { job: 'some-other-job' }], /belongs to job "some-other-job", not this job/],
      [[1, 0, { secret: 'guess' }], /authentication failed/],
      [[1, 5], /addressed to rank 5, but this is rank 0/],
      [[7, 0], /claims rank 7, which is no peer in a job of 2/],
      [[0, 0], /claims rank 0, which is no peer/],
    ];
    for (const [args, log] of cases) {
      const r = raw(a);
      expect(await r.authenticate(...args)).toBe('closed');
      await until(`log ${log}`, () => a.host.logged(log));
    }
    expect(a.host.errors).toEqual([]);
  });

  it('closes a connection that sends data before authenticating', async () => {
    job = await startJob(1);
    const r = raw(job[0]!);
    r.write(Buffer.concat([encodeHeader(FrameType.DATA, 0x80, 2), Buffer.from('hi')]));
    await r.closedPromise;
    await until('the log', () => job[0]!.host.logged(/data frame before the handshake completed/));
    expect(job[0]!.host.received).toEqual([]);
    expect(job[0]!.module.refusedBeforeAuthentication).toBe(1);
  });

  it.each([
    ['a data frame announcing 100 MiB', encodeHeader(FrameType.DATA, 0x80, 100 * 1024 * 1024), /data frame before the handshake/],
    ['a data frame within max_send_size', encodeHeader(FrameType.DATA, 0x80, 64 * 1024), /data frame before the handshake completed/],
    ['a close frame', encodeControl(FrameType.CLOSE), /close frame before the handshake completed/],
    ['a response larger than a handshake', encodeHeader(FrameType.RESPONSE, 0, CONTROL_LIMIT + 1), /handshake frame of 4097 bytes/],
  ])('closes a caller that sends %s before authenticating, at its header', async (_what, header, log) => {
    job = await startJob(2);
    const [a, b] = job as [Rank, Rank];
    const r = raw(a);
    await r.frame(FrameType.CHALLENGE);
    // Only the header: the connection must close without waiting for (or buffering) the payload.
    r.write(header);
    await r.closedPromise;
    await until('the log', () => a.host.logged(log));
    expect(a.module.refusedBeforeAuthentication).toBe(1);
    await stillExchanging(a, b, 'unharmed');
  });

  it('turns away callers beyond the limit of handshakes in progress, and counts them', async () => {
    job = await startJob(1, { settings: { handshake_timeout: 60_000 } });
    const [a] = job as [Rank];
    const limit = unauthenticatedLimit(1);
    const silent = Array.from({ length: limit }, () => raw(a));
    await Promise.all(silent.map((r) => r.frame(FrameType.CHALLENGE)));
    const extra = raw(a);
    await extra.closedPromise;
    expect(extra.frames).toEqual([]);
    await until('the log', () => a.host.logged(new RegExp(`${limit} callers are already in their handshake`)));
    expect(a.module.refusedBeforeAuthentication).toBe(1);
    // A slot frees when a silent caller goes; a new caller is challenged again.
    silent[0]!.destroy();
    await until('the count', () => a.module.refusedBeforeAuthentication === 2);
    const next = raw(a);
    await next.frame(FrameType.CHALLENGE);
  });

  it.each([
    ['an unknown frame type', Buffer.from([0x53, 0x59, 0x77, 0, 0, 0, 0, 0]), /unknown frame type 119/],
    ['bad magic', Buffer.from([0xde, 0xad, 5, 0, 0, 0, 0, 1, 0]), /bad magic 0xdead/],
    ['a length above max_send_size', encodeHeader(FrameType.DATA, 0x80, 1024 * 1024 + 1), /exceeds the limit of 1048576/],
    ['a handshake frame', encodeControl(FrameType.CHALLENGE, Buffer.from('{}')), /unexpected challenge frame on an open connection/],
  ])('closes an authenticated connection that then sends %s; the others keep working', async (_what, bad, log) => {
    // Rank 2 exists in the job, but its "process" is this raw socket.
    job = [await startRank(0, 3), await startRank(1, 3)];
    for (const r of job) await addAll(r, job);
    const [a, b] = job as [Rank, Rank];
    const ghost = { rank: 2, hostname: 'testhost', local: true, cards: [{ ...a.card }] };
    await a.module.addProcs([ghost]);
    const r = raw(a);
    expect(await r.authenticate(2, 0)).toBe(FrameType.ACCEPT);
    r.write(Buffer.concat([encodeHeader(FrameType.DATA, 0x81, 3), Buffer.from('ok!')]));
    await until('the valid fragment', () => a.host.received.length === 1);
    expect(a.host.received[0]).toMatchObject({ from: 2, tag: 0x81 });
    r.write(bad);
    await r.closedPromise;
    await until('the log', () => a.host.logged(log));
    expect(a.host.errors).toMatchObject([{ severity: 'endpoint', endpoint: { rank: 2 } }]);
    await stillExchanging(a, b, 'still here');
    await stillExchanging(b, a, 'me too');
  });

  it('holds an authenticated caller until addProcs adds its rank, and drops it if that never happens', async () => {
    const a = await startRank(0, 3, { settings: { handshake_timeout: 500 } });
    const b = await startRank(1, 3);
    job = [a, b];
    // b knows a, a does not know b yet (its addProcs is late).
    await addAll(b, job);
    const pending = sendAndWait(b, 0, 0x80, [Buffer.from('early bird')]);
    await until('the caller to be held', () => a.host.logged(/holding connection from .* \(rank 1\)/));
    await addAll(a, job);
    expect(await pending).toBeUndefined();
    await until('delivery', () => a.host.received.length === 1);
    expect(a.host.received[0]!.data.toString()).toBe('early bird');
    // Rank 2 authenticates but is never added: dropped after handshake_timeout.
    const r = raw(a);
    const answer = r.authenticate(2, 0);
    expect(await answer).toBe('closed');
    await until('the log', () => a.host.logged(/rank 2 did not become a peer of this module within 500 ms/));
  });

  it('waits for the peer after losing a simultaneous connect, then sends everything on its connection', async () => {
    // This module is rank 1; rank 0 is played by hand: it turns our call down, then calls us.
    const lower = await fakeAcceptor(0, 'reject-collision');
    try {
      const h = await startRank(1, 2);
      job = [h];
      const [ep] = await h.module.addProcs([{ rank: 0, hostname: 'testhost', local: true, cards: [lower.card] }]);
      h.endpoints.set(0, ep!);
      const dones: Array<Error | undefined> = [];
      for (let i = 0; i < 3; i++) h.module.send(ep!, 0x40 + i, [Buffer.from(`m${i}`)], (e) => dones.push(e));
      await until('our call turned down', () => h.host.logged(/keeps its own connection/));
      expect(h.module.peerState(ep!)!.state).toBe('awaiting');
      const r = raw(h);
      expect(await r.authenticate(0, 1)).toBe(FrameType.ACCEPT);
      await until('the queued fragments', () => r.frames.filter((f) => f.type === FrameType.DATA).length === 3);
      expect(r.frames.filter((f) => f.type === FrameType.DATA).map((f) => [f.tag, f.payload.toString()])).toEqual([
        [0x40, 'm0'],
        [0x41, 'm1'],
        [0x42, 'm2'],
      ]);
      await until('completions', () => dones.length === 3);
      expect(dones).toEqual([undefined, undefined, undefined]);
      expect(h.host.errors).toEqual([]);
    } finally {
      await lower.close();
    }
  });

  it('gives up with an endpoint error when the winner of a simultaneous connect never calls', async () => {
    const lower = await fakeAcceptor(0, 'reject-collision');
    try {
      const h = await startRank(1, 2, { settings: { handshake_timeout: 100 } });
      job = [h];
      const [ep] = await h.module.addProcs([{ rank: 0, hostname: 'testhost', local: true, cards: [lower.card] }]);
      const err = await new Promise<Error | undefined>((resolve) => h.module.send(ep!, 0x40, [Buffer.from('x')], resolve));
      expect(err?.message).toMatch(/refused our connection 3 times/);
      expect(h.host.errors).toMatchObject([{ severity: 'endpoint', endpoint: { rank: 0 } }]);
    } finally {
      await lower.close();
    }
  });
});
