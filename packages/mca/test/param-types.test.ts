import { describe, expect, it } from 'vitest';
import { coerce, formatSize, parseSelection, parseSize } from '../src/index.js';

describe('parameter types', () => {
  it('reads sizes in binary units', () => {
    expect(parseSize('64k')).toBe(65536);
    expect(parseSize('1m')).toBe(1048576);
    expect(parseSize('1.5K')).toBe(1536);
    expect(parseSize('4 MiB')).toBe(4 * 1024 * 1024);
    expect(parseSize('16KB')).toBe(16384);
    expect(parseSize(512)).toBe(512);
    expect(formatSize(65536)).toBe('64k');
    expect(formatSize(1000)).toBe('1000');
    expect(() => parseSize('lots')).toThrow(/expected a size .* got 'lots'/);
    expect(() => parseSize(-1)).toThrow(/size/);
  });

  it('reads integers, booleans, enums and lists', () => {
    expect(coerce('integer', ' 42 ')).toBe(42);
    expect(coerce('integer', '0x10')).toBe(16);
    expect(coerce('integer', '-0x10')).toBe(-16);
    expect(coerce('integer', '+0X1f')).toBe(31);
    expect(coerce('integer', '-7')).toBe(-7);
    expect(() => coerce('integer', '4.5')).toThrow(/expected an integer, got '4.5'/);
    expect(coerce('boolean', 'yes')).toBe(true);
    expect(coerce('boolean', '0')).toBe(false);
    expect(() => coerce('boolean', 'maybe')).toThrow(/expected a boolean/);
    expect(coerce('enum', 'SOFT', ['auto', 'native', 'soft'])).toBe('soft');
    expect(() => coerce('enum', 'hard', ['auto', 'soft'])).toThrow(/one of 'auto', 'soft', got 'hard'/);
    expect(coerce('list', 'tcp, self')).toEqual(['tcp', 'self']);
    expect(coerce('list', ['a', 'b'])).toEqual(['a', 'b']);
    expect(() => coerce('string', { a: 1 })).toThrow(/expected a string, got an object/);
  });

  it('parses include and exclude lists, refusing a misplaced or mixed ^', () => {
    expect(parseSelection('tcp,self')).toEqual({ mode: 'include', names: ['tcp', 'self'] });
    expect(parseSelection('^openib')).toEqual({ mode: 'exclude', names: ['openib'] });
    expect(parseSelection('')).toEqual({ mode: 'all' });
    expect(() => parseSelection('tcp,^self')).toThrow(/mixes include and exclude/);
    expect(() => parseSelection('^tcp,^self')).toThrow(/a '\^' may only stand first/);
    expect(() => parseSelection('tcp,,self')).toThrow(/empty component name/);
  });
});
