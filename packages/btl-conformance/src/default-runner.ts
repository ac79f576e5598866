import type { ConformanceOptions, TestFunction } from './options.js';

type Describe = NonNullable<ConformanceOptions['describe']>;

const VITEST = 'vitest';

/**
 * vitest's describe / it when vitest is installed, looked up when the kit is imported (vitest
 * refuses require()); absent otherwise, so the kit works under other runners, given theirs.
 */
export const vitestRunner: { describe: Describe; it: TestFunction } | undefined = await import(VITEST).then(
  (v: { describe: Describe; it: TestFunction }) => ({ describe: v.describe, it: v.it }),
  () => undefined,
);
