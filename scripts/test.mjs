#!/usr/bin/env node
// `npm test`: build what the multi-process tests run (they start real Node processes on dist/),
// type-check sources and tests, run every vitest project, and end with the plain
// "N passed, N failed" line that CI reads.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const results = '.vitest-results.json';
const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', shell: false }).status ?? 1;
const npx = (args) => run('npx', ['--no-install', ...args]);

const step = (title) => process.stdout.write(`\n== ${title}\n`);

step('build (lerna, dependency order)');
if (run('npm', ['run', 'build', '--silent']) !== 0) fail('build failed');
step('type-check tests');
if (npx(['tsc', '-p', 'tsconfig.test.json']) !== 0) fail('type check failed');
step('vitest');
rmSync(results, { force: true });
const status = npx(['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...process.argv.slice(2)]);

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(results, 'utf8'));
  passed = report.numPassedTests;
  failed = report.numFailedTests;
  skipped = report.numPendingTests + (report.numTodoTests ?? 0);
  // A test file that fails to load has no failed tests but is a failure.
  failed += report.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
} catch {
  failed += 1;
}
if (status !== 0 && failed === 0) failed = 1;
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 || status !== 0 ? 1 : 0);

function fail(message) {
  process.stdout.write(`\n${message}\n0 passed, 1 failed\n`);
  process.exit(1);
}
