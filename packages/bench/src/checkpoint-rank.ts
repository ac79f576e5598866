/**
 * The rank program of `switchyard bench checkpoint`: an all-to-all stream of numbered messages
 * (each rank to every other, every iteration; every arrival's number checked), timing each
 * iteration. The pauses a checkpoint causes show as long iterations, kept with their wall-clock
 * start so the bench can tell which save or restore caused which. Every 16 iterations an
 * allreduce decides, collectively, whether the stop file exists.
 *
 *   checkpoint-rank.js STOP_FILE READY_FILE
 */
import { existsSync, writeFileSync } from 'node:fs';
import { init } from '@switchyard/mpi';
import { CKPT_REPORT_PREFIX, PAUSE_FLOOR_MS, type CheckpointRankReport } from './checkpoint/report-line.js';

const [stopFile, readyFile] = process.argv.slice(2) as [string, string];
const world = await init();
const { rank, size } = world;
const TAG = 7;
/** Iterations before the job counts as computing (connections up, code compiled). */
const WARMUP = 50;

const expected = new Array<number>(size).fill(0);
const durations: number[] = [];
const pauses: Array<{ at: number; ms: number }> = [];
let errors = 0;
let iterations = 0;
let last = performance.now();
for (;;) {
  const sends = [];
  for (let dest = 0; dest < size; dest++) {
    if (dest === rank) continue;
    const body = Buffer.alloc(1024);
    body.writeUInt32LE(iterations, 0);
    sends.push(world.isend(body, dest, TAG));
  }
  for (let source = 0; source < size; source++) {
    if (source === rank) continue;
    const m = await world.recv(source, TAG);
    const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.length);
    // A lost, duplicated or reordered message shows as the wrong number.
    if (data.length < 4 || data.readUInt32LE(0) !== expected[source]) errors++;
    expected[source]!++;
  }
  await world.waitAll(sends);
  iterations++;
  const now = performance.now();
  const ms = now - last;
  durations.push(ms);
  if (ms >= PAUSE_FLOOR_MS) pauses.push({ at: Date.now() - ms, ms });
  last = now;
  if (rank === 0 && iterations === WARMUP) writeFileSync(readyFile, world.jobId);
  if (iterations % 16 === 0) {
    const [stop] = await world.allreduce(Int32Array.of(existsSync(stopFile) ? 1 : 0), 'max');
    if (stop) break;
  }
}
durations.sort((a, b) => a - b);
const report: CheckpointRankReport = {
  rank,
  iterations,
  errors,
  received: expected,
  medianIterationMs: durations[Math.floor(durations.length / 2)] ?? 0,
  pauses,
};
process.stdout.write(`${CKPT_REPORT_PREFIX}${JSON.stringify(report)}\n`);
await world.finalize();
