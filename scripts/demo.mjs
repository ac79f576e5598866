#!/usr/bin/env node
// `npm run demo`: the story Switchyard exists for. A 4-rank computation starts on the fast,
// non-checkpointable transports (btl-sm, shared memory, and btl-openib on its software verbs
// provider); first `switchyard ctl switch tcp` and `ctl reset` move its traffic to tcp and back
// while it computes, measuring both; before a snapshot `switchyard ctl checkpoint prepare` moves
// the traffic to tcp and unloads the fast ones. Where CRIU can
// be used (root, CRIU 4.2+), the snapshot is real: `checkpoint save` dumps the launcher and every
// rank to disk, the processes are gone, `switchyard restore` brings them back. Elsewhere the ranks
// are frozen and thawed instead (SIGSTOP / SIGCONT), and the demo says why. `checkpoint continue`
// loads them again and moves the traffic back; the job finishes and checks its result against
// the same computation done undisturbed by one process.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const CLI = 'packages/switchyard/bin/switchyard.js';
const [points = '2000', iterations = '2000000'] = process.argv.slice(2);
// The job computes until the story is told (a stop file), however fast or loaded this machine is.
const scratch = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
const stopFile = join(scratch, 'stop');
const stopJob = () => writeFileSync(stopFile, '');
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
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

const info = readInfo();
const sm = componentStatus(info, 'sm');
// Asked for by name, an unusable component would end the job: sm comes only where it works.
const MCA = ['--mca', 'btl', `${sm.usable ? 'sm,' : ''}openib,tcp,self`, '--mca', 'btl_openib_provider', 'soft'];
const FAST = sm.usable ? 'sm and openib' : 'openib';

step('transports found (switchyard info)');
run(['info', ...MCA]);
if (!sm.usable) console.log(`\nbtl sm (shared memory) is left out: ${sm.reason}`);
const criu = usableCriu(info);
console.log(criu.usable
  ? `\nCRIU ${criu.version} (${criu.path}) passes 'criu check': the snapshot below is a real one, saved to disk and restored.`
  : `\nNo usable CRIU (${criu.reason}):\nthe snapshot below is SIGSTOP / SIGCONT instead of a save to disk.`);

step(`switchyard run -n 4 ${MCA.join(' ')} examples/jacobi/jacobi.mjs ${points} ${iterations} ${stopFile}`);
// Its own session (as under setsid), so CRIU can save it whole; Ctrl-C here still ends it.
const job = spawn(process.execPath, [CLI, 'run', '-n', '4', ...MCA, 'examples/jacobi/jacobi.mjs', points, iterations, stopFile], {
  stdio: ['ignore', 'pipe', 'pipe'],
  detached: true,
});
job.stderr.pipe(process.stderr);
process.on('SIGINT', () => {
  try {
    process.kill(-job.pid, 'SIGTERM');
  } catch {}
  process.exit(130);
});
const ended = new Promise((resolve) => job.on('close', (code) => resolve(code)));
const times = [];
let jobId;
let story;
for await (const line of createInterface({ input: job.stdout })) {
  console.log(`  | ${line}`);
  jobId ??= /^job (\S+):/.exec(line)?.[1];
  if (!story && jobId && line.startsWith('iteration ')) {
    story = speedStory(jobId).then(() => (criu.usable ? criuStory(jobId) : checkpointStory(jobId)));
  }
}
// Saved and restored, the job is no child of ours any more: its last line says how it ended.
const restoredMatch = await story;
const code = criu.usable ? (restoredMatch ? 0 : 1) : await ended;

step('what each verb took');
for (const [verb, ms] of times) console.log(`  ${verb.padEnd(22)} ${ms.toFixed(1).padStart(7)} ms`);
console.log(code === 0 ? '\nThe job finished with the result of an undisturbed run.' : `\nThe job failed (exit ${code}).`);
process.exit(code);

/** `switchyard info --param btl sm --json`, once: what the demo needs to know of sm and CRIU. */
function readInfo() {
  const out = spawnSync(process.execPath, [CLI, 'info', '--param', 'btl', 'sm', '--json'], { encoding: 'utf8' });
  try {
    return { info: JSON.parse(out.stdout) };
  } catch {
    return { error: `switchyard info failed: ${out.stderr}` };
  }
}

/** A component of the btl framework: usable, or why not. */
function componentStatus({ info, error }, name) {
  if (error) return { usable: false, reason: error };
  const c = info.frameworks.find((f) => f.name === 'btl')?.components.find((x) => x.name === name);
  return c?.status === 'available' ? { usable: true } : { usable: false, reason: c?.reason ?? 'not found' };
}

/** CRIU: usable, or why not. */
function usableCriu({ info, error }) {
  if (error) return { usable: false, reason: error };
  const { criu } = info;
  return criu.problem ? { usable: false, reason: criu.problem.reason } : { usable: true, path: criu.path, version: criu.version };
}

/** `12.5 ms` or `1.2 s` as the CLI prints them, in ms. */
function msOf(line) {
  const m = / in ([\d.]+) (ms|s)\b/.exec(line);
  return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN;
}

/** Rank 0's fragments sent so far, by transport. */
function sentByBtl(id) {
  const rank0 = ctl(id, 'status').ranks[0];
  return { at: performance.now(), sent: new Map(rank0.traffic.map((t) => [t.btl, t.fragmentsSent])), peers: rank0.peers };
}

/** Rank 0's send rate over `ms` while the job computes, and the transport that carried it. */
async function measure(id, ms) {
  const a = sentByBtl(id);
  await sleep(ms);
  const b = sentByBtl(id);
  let btl = '';
  let most = -1;
  for (const [name, n] of b.sent) {
    const grew = n - (a.sent.get(name) ?? 0);
    if (grew > most) [btl, most] = [name, grew];
  }
  return { btl, perSecond: (most * 1000) / (b.at - a.at) };
}

/** The same computation on the fast transport and on tcp, switched while it runs. */
async function speedStory(id) {
  step('the same job on its fast transport, then on tcp, switched while it computes (ctl switch tcp, ctl reset)');
  const fast = await measure(id, 1000);
  const toTcp = ctl(id, 'switch', 'tcp');
  times.push(['switch tcp', toTcp.ms]);
  const slow = await measure(id, 1000);
  const back = ctl(id, 'reset');
  times.push(['reset (back)', back.ms]);
  for (const { btl, perSecond } of [fast, slow]) {
    console.log(`  rank 0 over ${btl.padEnd(6)} ${Math.round(perSecond).toLocaleString('en-US').padStart(9)} messages/s`);
  }
  const ratio = fast.perSecond / slow.perSecond;
  console.log(`  ${fast.btl} carries ${ratio.toFixed(1)}x the message rate of ${slow.btl} on this host`);
}

/** The real snapshot: save to disk (processes gone), restore, continue; resolves to whether the job ended in MATCH. */
async function criuStory(id) {
  const dir = join(scratch, 'checkpoint');
  try {
    step(`checkpoint save: prepare (${FAST} unloaded), then CRIU dumps the launcher and its 4 ranks into ${dir}`);
    const saved = ctl(id, 'checkpoint', 'save', dir);
    const m = saved.manifest;
    times.push(['checkpoint prepare', m.times.prepareMs], ['CRIU dump', m.times.dumpMs]);
    const mb = (m.sizes.imagesBytes / 1e6).toFixed(1);
    console.log(`  saved: ${mb} MB of images for ${m.ids.pids.length} processes (CRIU ${m.criu.version})`);
    const alive = m.ids.pids.filter((pid) => {
      try {
        return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    });
    console.log(alive.length ? `  still running: ${alive.join(', ')}` : `  the job's processes (${m.ids.pids.join(', ')}) are gone`);
    step(`switchyard restore: CRIU brings the processes back, checkpoint continue loads ${FAST} again`);
    const restored = spawn(process.execPath, [CLI, 'restore', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let matched = false;
    let continued = false;
    for await (const line of createInterface({ input: restored.stdout })) {
      // The continue's per-rank lines are indented: the first line after them is the job's own.
      if (continued && !line.startsWith(' ')) {
        continued = false;
        step('the computation goes on, restored, back on the fast transports');
      }
      console.log(`  | ${line}`);
      if (line.startsWith('restore: job')) times.push(['CRIU restore', msOf(line)]);
      if (line.startsWith('checkpoint continue: done')) {
        times.push(['checkpoint continue', msOf(line)]);
        continued = true;
        setTimeout(stopJob, 1000);
      }
      if (/: MATCH$/.test(line)) matched = true;
    }
    return matched;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

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
  step(`checkpoint: move to tcp, unload ${FAST}`);
  const before = traffic('traffic so far:');
  timed('checkpoint prepare', 'checkpoint', 'prepare');
  step('"VM snapshot": every rank frozen for 1 s (SIGSTOP), then thawed (SIGCONT); no usable CRIU to save it to disk');
  const pids = before.ranks.map((r) => r.pid);
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  await sleep(1000);
  for (const pid of pids) process.kill(pid, 'SIGCONT');
  await sleep(300);
  traffic(`traffic after the snapshot (${FAST} unloaded, running on tcp):`);
  step(`continue: load ${FAST} again, move the traffic back`);
  timed('checkpoint continue', 'checkpoint', 'continue');
  await sleep(300);
  traffic('traffic now (back on the fast transport):');
  step('the computation goes on');
  await sleep(1000);
  stopJob();
}
