#!/usr/bin/env node
// `npm run demo`: builds what it needs, then runs the main demonstration. Until the multi-process
// demo exists it shows what this installation found: `switchyard info`.
import { spawnSync } from 'node:child_process';

const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 1;
if (run('npm', ['run', 'build', '--silent']) !== 0) process.exit(1);
process.exit(run(process.execPath, ['packages/switchyard/bin/switchyard.js', 'info', ...process.argv.slice(2)]));
