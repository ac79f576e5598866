import { readdirSync, existsSync } from 'node:fs';
import { configDefaults, defineConfig } from 'vitest/config';

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
      {
        extends: true as const,
        test: { name: 'integration', root: 'test', include: ['**/*.test.ts'], exclude: [...configDefaults.exclude, 'cluster/**'] },
      },
      // Across two "hosts": a two-node Slurm cluster in network namespaces (scripts/vcluster.sh),
      // brought up once for these files and taken down after them.
      {
        extends: true as const,
        test: {
          name: 'cluster',
          root: 'test/cluster',
          include: ['**/*.test.ts'],
          globalSetup: ['./global-setup.ts'],
          fileParallelism: false,
        },
      },
    ],
  },
});
