import { describe, expect, it } from 'vitest';
import { ANY_SOURCE, ANY_TAG, Matcher, RecvRequest, type Incoming } from '../src/matching.js';

/** A matcher for 4 ranks that records which receive took which message. */
function matcher() {
  const bound = new Map<RecvRequest, Incoming>();
  const m = new Matcher(4, (recv, message) => bound.set(recv, message));
  const seq = [0, 0, 0, 0];
  const arrive = (source: number, tag: number, size = 1) => {
    const message: Incoming = { source, tag, size, data: new Uint8Array(size) };
    m.arrive(seq[source]!++, message);
    return message;
  };
  const post = (source: number, tag: number) => {
    const recv = new RecvRequest(source, tag);
    m.post(recv);
    return recv;
  };
  const takenBy = (recv: RecvRequest) => bound.get(recv);
  return { m, arrive, post, takenBy };
}

describe('Matcher', () => {
  it('gives a wildcard receive the oldest waiting message that matches, across senders and tags', () => {
    const { m, arrive, post, takenBy } = matcher();
    const a = arrive(2, 5);
    const b = arrive(1, 6);
    const c = arrive(1, 5);
    const d = arrive(3, 6);
    expect(m.probe(ANY_SOURCE, 6)).toEqual({ source: 1, tag: 6, size: 1 });
    expect(takenBy(post(ANY_SOURCE, 5))).toBe(a);
    expect(takenBy(post(1, ANY_TAG))).toBe(b);
    expect(takenBy(post(ANY_SOURCE, ANY_TAG))).toBe(c);
    expect(m.entries(0).unexpected).toEqual([{ ctx: 0, source: 3, tag: 6, size: 1 }]);
    expect(takenBy(post(3, 6))).toBe(d);
    expect(m.pending()).toEqual({ posted: 0, unexpected: 0, early: 0 });
  });

  it('gives a message the oldest posted receive that matches, of the four kinds', () => {
    const { m, arrive, post, takenBy } = matcher();
    const anyAny = post(ANY_SOURCE, ANY_TAG);
    const exact = post(1, 6);
    const anyTag = post(1, ANY_TAG);
    const anySource = post(ANY_SOURCE, 6);
    expect(m.entries(0).posted.map((p) => [p.source, p.tag])).toEqual([[-1, -1], [1, 6], [1, -1], [-1, 6]]);
    const first = arrive(1, 6);
    const second = arrive(1, 6);
    const third = arrive(2, 6);
    const fourth = arrive(1, 7);
    expect([takenBy(anyAny), takenBy(exact), takenBy(anySource), takenBy(anyTag)]).toEqual([first, second, third, fourth]);
  });

  it('keeps each sender\'s messages in sending order, whatever order their headers came in', () => {
    const { m, post, takenBy } = matcher();
    const early: Incoming = { source: 1, tag: 5, size: 2, data: new Uint8Array(2) };
    const first: Incoming = { source: 1, tag: 5, size: 1, data: new Uint8Array(1) };
    m.arrive(1, early);
    const recv = post(1, 5);
    expect(takenBy(recv)).toBeUndefined();
    m.arrive(0, first);
    expect(takenBy(recv)).toBe(first);
    expect(m.probe(1, 5)).toEqual({ source: 1, tag: 5, size: 2 });
  });

  it('cancels a posted receive, and fails the ones naming a lost sender while ANY_SOURCE ones stay', () => {
    const { m, arrive, post, takenBy } = matcher();
    const cancelled = post(1, 5);
    const named = post(2, 5);
    const named2 = post(2, ANY_TAG);
    const wild = post(ANY_SOURCE, 5);
    expect(m.cancel(cancelled)).toBe(true);
    expect(m.cancel(cancelled)).toBe(false);
    const errors: unknown[] = [];
    for (const r of [cancelled, named, named2]) r.wait().catch((e: unknown) => errors.push(e));
    m.failSource(2, new Error('rank 2 lost'));
    const message = arrive(1, 5);
    expect(takenBy(wild)).toBe(message);
    expect(m.pending().posted).toBe(0);
    return Promise.resolve().then(() => expect(errors).toHaveLength(3));
  });

  // Before, every receive and every arrival walked one queue of all that waited: 100,000
  // receives behind 100,000 messages of another sender took about 10^10 steps (minutes).
  it('matches without walking past what other senders and tags have waiting', () => {
    const { m, arrive, post, takenBy } = matcher();
    const N = 100_000;
    for (let i = 0; i < N; i++) arrive(2, 5);
    for (let i = 0; i < N; i++) post(3, 9);
    for (let i = 0; i < N; i++) {
      const message = arrive(1, 6);
      const recv = post(i % 2 ? ANY_SOURCE : 1, 6);
      if (takenBy(recv) !== message) throw new Error(`receive ${i} did not take its message`);
    }
    expect(m.pending()).toEqual({ posted: N, unexpected: N, early: 0 });
  }, 30_000);
});
