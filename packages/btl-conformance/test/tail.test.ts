import { describe, expect, it } from 'vitest';
import { tail } from '../src/runner/launch.js';

describe('tail (a failed job\'s stderr in a verdict)', () => {
  it('keeps each error with the frame it was thrown in, not the rest of its stack', () => {
    const frames = Array.from({ length: 12 }, (_, i) => `    at f${i} (file:///x.js:${i}:1)`);
    const stderr = ['switchyard run: rank 0 failed', 'Error: btl udsi: sendi cannot send now', ...frames, 'exit 1'].join('\n');
    expect(tail(stderr)).toBe(
      'switchyard run: rank 0 failed | Error: btl udsi: sendi cannot send now |     at f0 (file:///x.js:0:1) | exit 1',
    );
    expect(tail('')).toBe('(nothing)');
  });
});
