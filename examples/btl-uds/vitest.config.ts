import { defineConfig } from 'vitest/config';

// This package's own test configuration, so a test run never picks up a parent folder's.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The conformance kit starts real jobs; one test file at a time keeps them from piling up.
    fileParallelism: false,
  },
});
