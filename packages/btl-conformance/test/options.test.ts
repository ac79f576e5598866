import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeConformance, RULES, type ConformanceOptions } from '../src/index.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOUND = join(HERE, 'fixtures', 'sound');
const noop = { describe: () => {}, it: () => {} };
const register = (options: Partial<ConformanceOptions>) => () =>
  describeConformance({ packageDir: SOUND, ...noop, ...options } as ConformanceOptions);

describe('describeConformance refuses bad options with what was wrong', () => {
  it('names each problem', () => {
    expect(register({ packageDir: 'fixtures/sound' })).toThrow(/packageDir must be an absolute folder path \(got "fixtures\/sound"\)/);
    expect(register({ packageDir: HERE })).toThrow(/test\/package.json does not exist/);
    expect(register({ packageDir: join(HERE, '..') })).toThrow(/declares no btl component: it needs "mca"/);
    expect(register({ ranks: 5 })).toThrow(/ranks must be an integer from 1 to 4 \(got 5\)/);
    expect(register({ skip: ['ordering', 'orderin'] })).toThrow(/skip: unknown conformance rule 'orderin'; known rules: manifest, /);
    expect(register({ only: ['nope'] })).toThrow(/only: unknown conformance rule 'nope'/);
    expect(register({ params: { btl_sound_eager_limit: 4096 as unknown as string } })).toThrow(/params.btl_sound_eager_limit must be a string/);
    expect(register({ streamFragments: 1000 })).toThrow(/streamFragments must be an integer of at least 69632 \(got 1000; fewer would not reach/);
    expect(register({ wideRanks: 10 })).toThrow(/wideRanks must be an integer from 11 to 64 \(got 10\)/);
  });

  it('reads wideRanks from the environment, and names the variable when its value is wrong', () => {
    const saved = process.env.SWITCHYARD_KIT_WIDE_RANKS;
    try {
      process.env.SWITCHYARD_KIT_WIDE_RANKS = '3';
      expect(register({})).toThrow(/SWITCHYARD_KIT_WIDE_RANKS must be an integer from 11 to 64 \(got '3'\)/);
      expect(register({ wideRanks: 16 })).not.toThrow();
    } finally {
      if (saved === undefined) delete process.env.SWITCHYARD_KIT_WIDE_RANKS;
      else process.env.SWITCHYARD_KIT_WIDE_RANKS = saved;
    }
  });
});

describe('registration', () => {
  it('registers one test per rule, named by its id, skipped ones marked with theirs', () => {
    const names: string[] = [];
    const skipped: string[] = [];
    const it = Object.assign((name: string) => void names.push(name), { skip: (name: string) => void skipped.push(name) });
    let suite = '';
    describeConformance({ packageDir: SOUND, skip: ['rdma'], describe: (name, body) => ((suite = name), body()), it });
    expect(suite).toBe('btl-conformance: sound (fixture-btl-sound, 2 ranks)');
    expect(names.map((n) => n.split(':')[0])).toEqual(RULES.map((r) => r.id).filter((id) => id !== 'rdma'));
    expect(skipped).toEqual([`rdma: ${RULES.find((r) => r.id === 'rdma')!.title} [skipped by option: rdma]`]);
  });

  it('hands the runner test functions that take no done callback (jest and mocha look at their length)', () => {
    const bodies: Array<(...args: unknown[]) => unknown> = [];
    describeConformance({ packageDir: SOUND, describe: (_name, body) => body(), it: (_name, body) => void bodies.push(body) });
    expect(bodies.length).toBe(RULES.length);
    expect(bodies.every((b) => b.length === 0)).toBe(true);
  });

  it('documents every rule under its own anchor in the README', () => {
    const readme = readFileSync(join(HERE, '..', 'README.md'), 'utf8');
    for (const rule of RULES) {
      // The README by its path on this machine, which a reader can open wherever the kit is installed.
      expect(rule.doc).toBe(`${join(HERE, '..', 'README.md')}#${rule.id}`);
      expect(readme).toContain(`\n### ${rule.id}\n`);
    }
  });
});
