#!/usr/bin/env node
// `npm run demo`: builds what it needs, shows what this installation found (`switchyard info`),
// then runs a real 4-rank computation over btl-tcp and btl-self and checks its result.
import { spawnSync } from 'node:child_process';

const cli = 'packages/switchyard/bin/switchyard.js';
const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 1;
const step = (title) => console.log(`\n== ${title}\n`);

step('build');
if (run('npm', ['run', 'build', '--silent']) !== 0) process.exit(1);
step('switchyard info');
if (run(process.execPath, [cli, 'info']) !== 0) process.exit(1);
step('switchyard run -n 4 --mca btl tcp,self examples/jacobi/jacobi.mjs');
process.exit(run(process.execPath, [cli, 'run', '-n', '4', '--mca', 'btl', 'tcp,self', 'examples/jacobi/jacobi.mjs', ...process.argv.slice(2)]));
