import { describe, expect, it } from 'vitest';
import { Fifo } from '../src/fifo.js';

/** The deque and an array model, driven alike; they must always hold the same entries. */
function check(d: Fifo<number>, model: number[]): void {
  expect(d.length).toBe(model.length);
  expect(d.map((x) => x)).toEqual(model);
}

describe('Fifo', () => {
  it('keeps order through growth, wrap-around, shifts and removals on either side', () => {
    const d = new Fifo<number>();
    const model: number[] = [];
    let next = 0;
    // A deterministic mix: more pushes than takes, so it grows past several capacities while its head wraps.
    for (let step = 0; step < 5000; step++) {
      const r = (step * 7919) % 10;
      if (r < 5 || model.length === 0) {
        d.push(next);
        model.push(next++);
      } else if (r < 7) {
        expect(d.shift()).toBe(model.shift());
      } else {
        const i = (step * 31) % model.length;
        expect(d.removeAt(i)).toBe(model.splice(i, 1)[0]);
      }
      if (step % 97 === 0) check(d, model);
    }
    check(d, model);
    expect(d.indexOf(model[3]!)).toBe(3);
    expect(d.find((x) => x === model.at(-1))).toBe(model.at(-1));
    const odd = d.removeWhere((x) => x % 2 === 1);
    expect(odd).toEqual(model.filter((x) => x % 2 === 1));
    check(d, model.filter((x) => x % 2 === 0));
    expect(d.drain()).toEqual(model.filter((x) => x % 2 === 0));
    check(d, []);
    expect(d.shift()).toBeUndefined();
  });
});
