/**
 * The rank program of `switchyard bench switch` (started by it through launchJob, N ranks).
 *
 * Round after round, every rank sends one numbered message to every other rank (small ones, and
 * every `rndvEvery`-th a rendezvous-sized one) and receives with ANY_SOURCE until it has this
 * round's message from every peer; a peer's next-round message that comes first is counted now.
 * (Receiving a fixed number per round, or waiting for the rendezvous sends first, could leave two
 * ranks waiting on each other for ever.) Each arrival is checked (per-source order, header,
 * bytes) and its time and size recorded. Every `checkEvery` rounds an allreduce decides,
 * collectively, whether the stop file is there; then each rank analyses its flow against the
 * stop order and prints its report as one `BENCH {...}` line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ANY_SOURCE, init, MAX } from '@switchyard/mpi';
import { BlockRecorder, FlowRecorder } from './flow.js';
import { encodeMessage, FlowChecker, makePattern } from './messages.js';
import {
  decodeRankPlan,
  epochNow,
  READY_PREFIX,
  REPORT_PREFIX,
  STALL_PREFIX,
  type RankReport,
  type ReadyLine,
  type StallLine,
  type StopOrder,
} from './plan.js';

const TAG = 7;

const plan = decodeRankPlan(process.argv[2]);
const world = await init();
const { rank, size } = world;
if (size < 2) await world.abort(1, `switchyard bench switch: the rank program needs at least 2 ranks, got ${size}`);
const traffic = plan.traffic;
const pattern = makePattern(traffic);
const checker = new FlowChecker(pattern, traffic, rank, size);
const flow = new FlowRecorder();
const blocks = new BlockRecorder();
const received = new Array<number>(size).fill(0);
const sent = new Array<number>(size).fill(0);
let round = 0;

const line = (prefix: string, value: unknown) => process.stdout.write(`${prefix}${JSON.stringify(value)}\n`);

// A flow that stops for long is reported once per stall, with what arrived from whom: the bench
// says which rank waits for which when it has to give up on a run.
const startedAt = epochNow();
let stallReported: number | undefined;
const watch = setInterval(() => {
  const last = flow.last ?? startedAt;
  const silentMs = epochNow() - last;
  if (silentMs < plan.stallMs || stallReported === last) return;
  stallReported = last;
  line(STALL_PREFIX, { rank, round, silentMs: Math.round(silentMs), received } satisfies StallLine);
}, 500);
watch.unref();

await world.barrier();
blocks.start(epochNow);
line(READY_PREFIX, { rank, pid: process.pid } satisfies ReadyLine);

for (;;) {
  const sends = [];
  for (let k = 1; k < size; k++) {
    const dest = (rank + k) % size;
    sends.push(world.isend(encodeMessage(pattern, traffic, rank, dest, round), dest, TAG));
  }
  // Peers whose message of this round has not come yet (one may already have, ahead of time).
  let missing = 0;
  for (let peer = 0; peer < size; peer++) if (peer !== rank && received[peer]! <= round) missing++;
  while (missing > 0) {
    const m = await world.recv(ANY_SOURCE, TAG);
    flow.record(epochNow(), m.data.byteLength);
    if (received[m.source]! === round) missing--;
    received[m.source]!++;
    checker.accept(m.data, m.source);
  }
  await world.waitAll(sends);
  for (let k = 1; k < size; k++) sent[(rank + k) % size]!++;
  round++;
  if (round % traffic.checkEvery === 0) {
    const [stop] = await world.allreduce(Int32Array.of(existsSync(plan.stopFile) ? 1 : 0), MAX);
    if (stop) break;
  }
}
clearInterval(watch);
blocks.stop();

const order = JSON.parse(readFileSync(plan.stopFile, 'utf8')) as StopOrder;
const report: RankReport = {
  rank,
  pid: process.pid,
  rounds: round,
  received,
  sent,
  integrity: checker.integrity(),
  messages: flow.count,
  bytes: flow.bytes,
  ...flow.analyse(order, blocks),
};
line(REPORT_PREFIX, report);
await world.finalize();
