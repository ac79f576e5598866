import { describe, expect, it } from 'vitest';
import { verdictOf } from '../src/rank/checks/verdict.js';

describe("a rule's verdict", () => {
  it('passes with nothing observed, and fails listing what was', () => {
    expect(verdictOf([])).toEqual({ status: 'pass' });
    expect(verdictOf(['fragment 3 arrived twice', 'fragment 9 missing'])).toEqual({
      status: 'fail',
      observed: 'fragment 3 arrived twice; fragment 9 missing',
    });
  });

  it('shows the first 16 violations and counts the rest, and cuts one that runs past 1,000 characters', () => {
    const many = Array.from({ length: 70 }, (_, i) => `fragment ${i} from rank 0 arrived after fragment ${i + 1}`);
    const observed = verdictOf(many).observed!;
    expect(observed.split('; ')).toHaveLength(17);
    expect(observed).toMatch(/^fragment 0 from rank 0 arrived after fragment 1; .*fragment 15 from rank 0 arrived after fragment 16; and 54 more like these$/);
    const long = `70 of 69632 fragments missing: ${Array.from({ length: 500 }, (_, i) => i * 1000 + 566).join(', ')}`;
    const cut = verdictOf([long]).observed!;
    expect(cut.startsWith(long.slice(0, 1000))).toBe(true);
    expect(cut).toMatch(new RegExp(`… \\(${long.length - 1000} characters more\\)$`));
  });
});
