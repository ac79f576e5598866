import { describe, expect, it } from 'vitest';
import { LoopHold } from '../src/index.js';

/** Timers that keep the event loop alive (Node lists a ref'd timer as 'Timeout'). */
const refedTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('LoopHold', () => {
  it('keeps the loop alive from the first hold to the last release, and not otherwise', async () => {
    const base = refedTimers();
    const hold = new LoopHold();
    expect(refedTimers()).toBe(base);
    hold.hold();
    hold.hold();
    expect(refedTimers()).toBe(base + 1);
    hold.release();
    expect(refedTimers()).toBe(base + 1);
    hold.release();
    expect(refedTimers()).toBe(base);
    // A release too many changes nothing.
    hold.release();
    expect(refedTimers()).toBe(base);

    let settle!: () => void;
    const during = hold.during(new Promise<void>((resolve) => (settle = resolve)));
    expect(refedTimers()).toBe(base + 1);
    settle();
    await during;
    expect(refedTimers()).toBe(base);

    hold.hold();
    hold.close();
    expect(refedTimers()).toBe(base);
  });
});
