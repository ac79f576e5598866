import { describe, expect, it } from 'vitest';
import { WARMUP_CAP_MS, WARMUP_MESSAGES, WARMUP_ROUNDS, WarmUp } from '../src/warm-up.js';

/**
 * Feeds `steps` (ms each, holding the turn as long) and says after how many the run was warm;
 * by default each step sends all the messages a warm-up needs.
 */
function warmAfter(minMs: number, steps: number[], messagesPerStep = WARMUP_MESSAGES): number | undefined {
  const w = new WarmUp(minMs, messagesPerStep);
  for (let i = 0; i < steps.length; i++) {
    w.record(steps[i]!, steps[i]!);
    if (w.done) return i + 1;
  }
  return undefined;
}

describe('a run\'s warm-up', () => {
  it('takes at least WARMUP_ROUNDS steps and its minimum time of its own', () => {
    expect(warmAfter(0, Array(30).fill(5))).toBe(WARMUP_ROUNDS);
    // 10 steps of 5 ms are 50 ms: a 200 ms minimum needs 40.
    expect(warmAfter(200, Array(60).fill(5))).toBe(40);
  });

  it('goes on while its steps keep getting faster, and stops once they do not', () => {
    // 20 ms steps falling by a fifth every 3 steps down to 5 ms, then flat.
    const falling = [20, 20, 20, 16, 16, 16, 12.8, 12.8, 12.8, 10.2, 10.2, 10.2, 8.2, 8.2, 8.2, 6.6, 6.6, 6.6, 5, 5, 5];
    const steps = [...falling, ...Array(20).fill(5)];
    const warm = warmAfter(0, steps)!;
    expect(warm).toBeGreaterThan(falling.length);
    expect(warm).toBeLessThanOrEqual(falling.length + 3);
    // Noise around a steady value is steady.
    expect(warmAfter(0, Array.from({ length: 30 }, (_, i) => (i % 2 ? 5.3 : 4.8)))).toBe(WARMUP_ROUNDS);
  });

  it('gives up after WARMUP_CAP_MS of its own time on a run that keeps getting faster', () => {
    const steps = Array.from({ length: 2000 }, (_, i) => 100 * 0.88 ** Math.floor(i / 3));
    const warm = warmAfter(0, steps)!;
    const spent = steps.slice(0, warm).reduce((a, b) => a + b, 0);
    expect(spent).toBeGreaterThanOrEqual(WARMUP_CAP_MS);
    expect(spent - steps[warm - 1]!).toBeLessThan(WARMUP_CAP_MS);
  });

  it('goes on, steady or not, until it has sent WARMUP_MESSAGES messages of the size', () => {
    const perStep = WARMUP_MESSAGES / 40;
    expect(warmAfter(0, Array(60).fill(5), perStep)).toBe(40);
    // Short of the count when WARMUP_CAP_MS of its own time is up: the cap wins.
    const slow = warmAfter(0, Array(1000).fill(100), 1)!;
    expect(slow * 100).toBeGreaterThanOrEqual(WARMUP_CAP_MS);
    expect(slow).toBeLessThan(WARMUP_MESSAGES);
  });

  it('ends at WARMUP_CAP_MS even before WARMUP_ROUNDS steps: a slow run does not hold the bench', () => {
    const step = WARMUP_CAP_MS / 4;
    expect(warmAfter(0, Array(WARMUP_ROUNDS).fill(step))).toBe(4);
  });
});
