import { describeConformance, type ConformanceOptions } from '../src/index.js';

export interface RuleResult {
  readonly name: string;
  readonly status: 'passed' | 'failed' | 'skipped';
  readonly error?: Error & { rule?: string; doc?: string; observed?: string };
  readonly note?: string;
}

/**
 * Runs the kit with a describe / it of our own (the way another runner would plug in) and
 * returns each test's result by rule id, instead of letting the failures fail this test.
 */
export async function runKit(options: Omit<ConformanceOptions, 'describe' | 'it'>): Promise<Map<string, RuleResult>> {
  const tests: Array<{ name: string; body: (context?: any) => unknown }> = [];
  const it = Object.assign((name: string, body: (context?: any) => unknown) => void tests.push({ name, body }), {
    skip: (name: string) => void tests.push({ name, body: (c: any) => c.skip('skipped by option') }),
  });
  describeConformance({ ...options, describe: (_name, body) => body(), it });
  const results = new Map<string, RuleResult>();
  for (const test of tests) {
    const id = test.name.split(':')[0]!;
    let note: string | undefined;
    const skip = (n?: string) => {
      note = n;
      throw new SkipSignal();
    };
    try {
      await test.body({ skip });
      results.set(id, { name: test.name, status: 'passed' });
    } catch (error) {
      if (error instanceof SkipSignal) results.set(id, { name: test.name, status: 'skipped', ...(note ? { note } : {}) });
      else results.set(id, { name: test.name, status: 'failed', error: error as RuleResult['error'] });
    }
  }
  return results;
}

class SkipSignal extends Error {}
