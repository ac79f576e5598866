#!/usr/bin/env node
// `npm run demo`: the story Switchyard exists for. A 4-rank computation starts on the fast,
// non-checkpointable transport (btl-openib, on its software verbs provider); before a "VM
// snapshot" `switchyard ctl checkpoint prepare` moves the traffic to tcp and unloads openib; the
// ranks are frozen and thawed (SIGSTOP / SIGCONT stand in for the snapshot); `checkpoint continue`
// loads openib again and moves the traffic back; the job finishes and checks its result against
// the same computation done undisturbed by one process.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';

const CLI = 'packages/switchyard/bin/switchyard.js';
const MCA = ['--mca', 'btl', 'openib,tcp,self', '--mca', 'btl_openib_provider', 'soft'];
const [points = '2000', iterations = '30000'] = process.argv.slice(2);
const step = (title) => console.log(`\n== ${title}`);
const run = (args) => spawnSync(process.execPath, [CLI, ...args], { stdio: 'inherit' }).status ?? 1;
const ctl = (jobId, ...args) => {
  const out = spawnSync(process.execPath, [CLI, 'ctl', '--job', jobId, ...args, '--json'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`switchyard ctl ${args.join(' ')} failed: ${out.stderr}${out.stdout}`);
  return JSON.parse(out.stdout);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

step('build');
if (spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' }).status !== 0) process.exit(1);

step('transports found (switchyard info)');
run(['info', ...MCA]);

step(`switchyard run -n 4 ${MCA.join(' ')} examples/jacobi/jacobi.mjs ${points} ${iterations}`);
const job = spawn(process.execPath, [CLI, 'run', '-n', '4', ...MCA, 'examples/jacobi/jacobi.mjs', points, iterations], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const ended = new Promise((resolve) => job.on('close', (code) => resolve(code)));
const times = [];
let jobId;
let story;
for await (const line of createInterface({ input: job.stdout })) {
  console.log(`  | ${line}`);
  jobId ??= /^job (\S+):/.exec(line)?.[1];
  if (!story && jobId && line.startsWith('iteration ')) story = checkpointStory(jobId);
}
await story;
const code = await ended;

step('what each verb took');
for (const [verb, ms] of times) console.log(`  ${verb.padEnd(22)} ${ms.toFixed(1).padStart(7)} ms`);
console.log(code === 0 ? '\nThe job finished with the result of an undisturbed run.' : `\nThe job failed (exit ${code}).`);
process.exit(code);

async function checkpointStory(id) {
  const traffic = (title) => {
    const status = ctl(id, 'status');
    console.log(`  ${title}`);
    for (const t of status.ranks[0].traffic) {
      console.log(
        `    rank 0 ${t.btl.padEnd(7)} sent ${String(t.fragmentsSent).padStart(7)} fragments ` +
          `${(t.bytesSent / 1e6).toFixed(2).padStart(8)} MB`,
      );
    }
    return status;
  };
  const timed = (verb, ...args) => {
    const result = ctl(id, ...args);
    times.push([verb, result.ms]);
    console.log(
      `  ${verb}: ${result.outcome} in ${result.ms.toFixed(1)} ms; rank 0: ${result.changes.find((c) => c.rank === 0)?.changes.join('; ')}`,
    );
  };
  step('checkpoint: move to tcp, unload openib');
  const before = traffic('traffic so far (running on openib):');
  timed('checkpoint prepare', 'checkpoint', 'prepare');
  step('"VM snapshot": every rank frozen for 1 s (SIGSTOP), then thawed (SIGCONT)');
  const pids = before.ranks.map((r) => r.pid);
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  await sleep(1000);
  for (const pid of pids) process.kill(pid, 'SIGCONT');
  await sleep(300);
  traffic('traffic after the snapshot (openib unloaded, running on tcp):');
  step('continue: load openib again, move the traffic back');
  timed('checkpoint continue', 'checkpoint', 'continue');
  await sleep(300);
  traffic('traffic now (back on openib):');
  step('the computation goes on');
}
