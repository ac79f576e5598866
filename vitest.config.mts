import { readdirSync, existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// Tests import sibling packages' TypeScript sources through this export condition, so no build
// is needed to run them; `tsc -b` stays the type check.
const conditions = ['@switchyard/source'];

const packages = readdirSync('packages').filter((d) => existsSync(`packages/${d}/test`));

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    // Multi-process tests start real ranks; two cores: keep test files from piling up.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      ...packages.map((dir) => ({
        extends: true as const,
        test: { name: dir, root: `packages/${dir}`, include: ['test/**/*.test.ts'] },
      })),
      { extends: true as const, test: { name: 'integration', root: 'test', include: ['**/*.test.ts'] } },
    ],
  },
});
