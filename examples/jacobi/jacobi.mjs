// Jacobi relaxation of a 1-D heat equation, split over the ranks of a Switchyard job.
// Each rank owns a slab of the rod, exchanges its edge values with its neighbours every
// iteration, and the result is checked against the same computation done by one process.
//
//   switchyard run -n 4 examples/jacobi/jacobi.mjs [POINTS] [ITERATIONS] [STOP_FILE]
//
// With STOP_FILE, the job stops early once that file exists (every rank at the same iteration,
// agreed every 1000), and the reference runs as many: a run as long as its operator needs.
import { existsSync } from 'node:fs';
import { init } from '@switchyard/mpi';

const POINTS = Number(process.argv[2] ?? 4000);
const ITERATIONS = Number(process.argv[3] ?? 3000);
const STOP_FILE = process.argv[4];
const PROGRESS_EVERY = STOP_FILE ? 25_000 : Math.ceil(ITERATIONS / 10);
const LEFT_TEMP = 100;
const RIGHT_TEMP = 0;

const world = await init();
const { rank, size } = world;
const started = performance.now();
if (rank === 0) {
  const until = STOP_FILE ? ` (or until ${STOP_FILE} exists)` : '';
  console.log(`job ${world.jobId}: ${size} ranks, ${POINTS} points, ${ITERATIONS} iterations${until}`);
}

// This rank's slab, with one ghost cell on each side.
const begin = Math.floor((rank * POINTS) / size);
const end = Math.floor(((rank + 1) * POINTS) / size);
let u = new Float64Array(end - begin + 2);
let next = new Float64Array(u.length);
const left = rank - 1;
const right = rank + 1 < size ? rank + 1 : -1;
const edge = (value) => Float64Array.of(value);
// A received message is bytes (possibly a view into a shared pool): read the double from them.
const valueOf = ({ data }) => new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat64(0, true);

let iterations = ITERATIONS;
for (let it = 0; it < ITERATIONS; it++) {
  if (STOP_FILE && it > 0 && it % 1000 === 0) {
    const [stop] = await world.allreduce(Uint8Array.of(rank === 0 && existsSync(STOP_FILE) ? 1 : 0), 'max');
    if (stop) {
      iterations = it;
      break;
    }
  }
  const sends = [];
  if (left >= 0) sends.push(world.isend(edge(u[1]), left, 1));
  if (right >= 0) sends.push(world.isend(edge(u[u.length - 2]), right, 2));
  u[0] = left >= 0 ? valueOf(await world.recv(left, 2)) : LEFT_TEMP;
  u[u.length - 1] = right >= 0 ? valueOf(await world.recv(right, 1)) : RIGHT_TEMP;
  await world.waitAll(sends);
  for (let i = 1; i < u.length - 1; i++) next[i] = 0.5 * (u[i - 1] + u[i + 1]);
  [u, next] = [next, u];
  if (rank === 0 && (it + 1) % PROGRESS_EVERY === 0) console.log(`iteration ${it + 1}/${ITERATIONS}`);
}

// Global sums, then the sequential reference on rank 0.
const mine = u.subarray(1, u.length - 1);
const [sum, weighted] = await world.allreduce(
  Float64Array.of(
    mine.reduce((a, b) => a + b, 0),
    mine.reduce((a, v, i) => a + v * (begin + i), 0),
  ),
  'sum',
);
if (rank === 0) {
  let a = new Float64Array(POINTS + 2);
  let b = new Float64Array(POINTS + 2);
  for (let it = 0; it < iterations; it++) {
    a[0] = LEFT_TEMP;
    a[POINTS + 1] = RIGHT_TEMP;
    for (let i = 1; i <= POINTS; i++) b[i] = 0.5 * (a[i - 1] + a[i + 1]);
    [a, b] = [b, a];
  }
  const refSum = a.subarray(1, POINTS + 1).reduce((x, y) => x + y, 0);
  const refWeighted = a.subarray(1, POINTS + 1).reduce((x, v, i) => x + v * i, 0);
  const same = Math.abs(sum - refSum) <= 1e-9 * Math.abs(refSum) && Math.abs(weighted - refWeighted) <= 1e-9 * Math.abs(refWeighted);
  console.log(`done: ${iterations} iterations in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  console.log(`heat sum ${sum.toFixed(6)} (sequential reference ${refSum.toFixed(6)}): ${same ? 'MATCH' : 'MISMATCH'}`);
  if (!same) process.exitCode = 1;
}
await world.finalize();
