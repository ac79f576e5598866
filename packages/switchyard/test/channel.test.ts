import { describe, expect, it } from 'vitest';
import { exchange, shift, type Channel } from '../src/app/channel.js';

/** A channel whose receive fails at once (a lost peer) and whose send fails a moment later, as both do when the peer is gone. */
function lostPeerChannel(): Channel {
  return {
    rank: 0,
    size: 2,
    send: () => new Promise((_, reject) => setTimeout(() => reject(new Error('send: peer lost')), 20)),
    recv: () => Promise.reject(new Error('recv: peer lost')),
  };
}

/** Runs `body` and collects the rejections Node found nobody handling meanwhile. */
async function unhandledDuring(body: () => Promise<unknown>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await body();
    // Unhandled rejections are reported after the microtasks of the turn that made them.
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return seen;
}

describe('collective steps when the peer is lost', () => {
  it('exchange: a receive that fails while the send is awaited reaches the caller, never as an unhandled rejection', async () => {
    const step = () => exchange(lostPeerChannel(), new Uint8Array(8), 1, 1);
    const seen = await unhandledDuring(() => expect(step()).rejects.toThrow('send: peer lost'));
    expect(seen).toEqual([]);
  });

  it('shift: the receive fails the step when awaited, after the caller awaited its sends first', async () => {
    const sends: Promise<void>[] = [];
    const seen = await unhandledDuring(async () => {
      const got = shift(lostPeerChannel(), new Uint8Array(8), 1, 1, sends);
      await expect(Promise.all(sends)).rejects.toThrow('send: peer lost');
      await expect(got).rejects.toThrow('recv: peer lost');
    });
    expect(seen).toEqual([]);
  });
});
