import { afterEach, describe, expect, it, vi } from 'vitest';
import { stallWatch } from '../src/rank/stall-watch.js';

describe('stall watch', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('decides a stall only on a look after the loop turned: a look that comes late (the loop held) notes the hold', async () => {
    vi.useFakeTimers();
    let stalled = false;
    let ended = false;
    const watch = stallWatch(60_000, () => stalled);
    void watch.promise.then(() => (ended = true));
    await vi.advanceTimersByTimeAsync(500);
    expect(ended).toBe(false);
    // Code holds the loop for 5 s: the clock moves, no timer runs; the peers' fragments wait unread meanwhile.
    stalled = true;
    vi.setSystemTime(Date.now() + 5000);
    await vi.advanceTimersByTimeAsync(100);
    expect(ended, 'the late look blamed the silence on the peers').toBe(false);
    expect(watch.longestHoldMs()).toBe(5000);
    // The next look, after the sockets were read, decides.
    await vi.advanceTimersByTimeAsync(100);
    expect(ended).toBe(true);
    watch.cancel();
  });

  it('ends at its time when nothing stalls, and reports no hold when the loop always turned', async () => {
    vi.useFakeTimers();
    let ended = false;
    const watch = stallWatch(1000, () => false);
    void watch.promise.then(() => (ended = true));
    await vi.advanceTimersByTimeAsync(900);
    expect(ended).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(ended).toBe(true);
    expect(watch.longestHoldMs()).toBe(0);
    watch.cancel();
  });
});
