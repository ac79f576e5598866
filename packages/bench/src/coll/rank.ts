/**
 * The rank program of `switchyard bench coll`: the same cases and method as mpi_coll.c (see
 * there), over Switchyard's collectives, with buffers allocated once per case and received into.
 *
 *   coll/rank.js ITERATIONS_SCALE COLL:SIZE[,COLL:SIZE...]
 */
import { init, Wtime, type Comm } from '@switchyard/mpi';
import { BATCHES, decodeCases, FIGURE_PREFIX, iterationsFor, WARMUP_OPS, type CollCase, type CollFigure } from './cases.js';

const [scaleText, casesText] = process.argv.slice(2);
const scale = Number(scaleText);
const cases = decodeCases(casesText ?? '');
const world = await init();
const np = world.size;

/** One operation of the case, its buffers made once. */
function operation(comm: Comm, c: CollCase): () => Promise<unknown> {
  const bytes = c.size;
  switch (c.coll) {
    case 'allreduce': {
      const send = new Float64Array(bytes / 8).fill(1);
      const into = new Float64Array(bytes / 8);
      return () => comm.allreduce(send, 'sum', into);
    }
    case 'bcast': {
      const data = new Uint8Array(bytes).fill(1);
      return () => comm.bcast(comm.rank === 0 ? data : undefined, 0, data);
    }
    case 'allgather': {
      const send = new Uint8Array(bytes).fill(1);
      const into = new Uint8Array(bytes * np);
      return () => comm.allgather(send, into);
    }
    case 'alltoall': {
      const send = new Uint8Array(bytes * np).fill(1);
      const into = new Uint8Array(bytes * np);
      return () => comm.alltoall(send, into);
    }
  }
}

// Both programs first run WARMUP_OPS 8-byte allreduces: V8 optimizes the shared message path
// only after about a thousand calls (measured on this machine: batches of 200 took 2-9 ms each
// until then, 0.4-0.9 ms after), which would otherwise land on whichever case comes first.
const one = new Float64Array(1);
for (let i = 0; i < WARMUP_OPS; i++) await world.allreduce(one, 'sum', one);

for (const c of cases) {
  const op = operation(world, c);
  const n = iterationsFor(c.size, scale);
  const per = Math.floor(n / BATCHES);
  for (let i = 0; i < Math.max(1, Math.floor(n / 10)); i++) await op();
  const batches: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    await world.barrier();
    const t0 = Wtime();
    for (let i = 0; i < per; i++) await op();
    const mine = Float64Array.of((Wtime() - t0) / per);
    batches.push((await world.allreduce(mine, 'max'))[0]!);
  }
  batches.sort((a, b) => a - b);
  const figure: CollFigure = { ...c, np, us: Math.round(batches[BATCHES >> 1]! * 1e9) / 1e3 };
  if (world.rank === 0) process.stdout.write(`${FIGURE_PREFIX}${JSON.stringify(figure)}\n`);
}
await world.finalize();
