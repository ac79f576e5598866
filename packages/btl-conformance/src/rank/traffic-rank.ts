/**
 * The control job's rank script: `switchyard run ... traffic-rank.js CONFIG_JSON`. Every rank
 * sends numbered, self-checking messages to every rank (itself included; every 8th one larger
 * than the eager limit, so rendezvous runs too) and receives them with ANY_SOURCE, checking per
 * source order and content, while the kit drives `switchyard ctl` verbs from outside. An
 * allreduce every 16 iterations decides, collectively, whether the kit asked to stop.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { ANY_SOURCE, init, internals } from '@switchyard/mpi';
import { TRAFFIC_PREFIX, type TrafficConfig, type TrafficReport } from '../protocol.js';
import { enterOwnFolder, launchedRank } from './own-folder.js';

const config = JSON.parse(process.argv[2] ?? '{}') as TrafficConfig;
// The runtime loads the component under test inside init(), so the rank moves into a folder of
// its own first, as a rank of a real job may run in; the project config is still read from the
// folder the job was started in.
const started = enterOwnFolder(launchedRank());
const world = await init(started ? { cwd: started } : {});
const { rank, size } = world;
const TAG = 11;

const modules = internals(world).transports.modules().get(config.component) ?? [];
const eager = Math.max(1024, ...modules.map((m) => m.eagerLimit));
const large = Math.min(eager + 4096, 4 * 1024 * 1024);
const sizeOf = (i: number) => (i % 8 === 3 ? large : 16 + ((i * 97) % 1500));

function message(source: number, dest: number, i: number): Buffer {
  const body = Buffer.allocUnsafe(sizeOf(i));
  const seed = (source * 131 + dest * 31 + i * 7) & 0xff;
  for (let k = 0; k < body.length; k++) body[k] = (seed + k * 13) & 0xff;
  body.writeUInt32LE(i, 0);
  return body;
}

const received = new Array<number>(size).fill(0);
const problems: string[] = [];
let iterations = 0;
if (rank === 0) writeFileSync(config.readyFile, world.jobId);
for (;;) {
  const sends = [];
  for (let dest = 0; dest < size; dest++) sends.push(world.isend(message(rank, dest, iterations), dest, TAG));
  // ANY_SOURCE until this iteration has a message from every rank; a faster rank's next one is counted now.
  while (received.some((n) => n <= iterations)) {
    const m = await world.recv(ANY_SOURCE, TAG);
    const i = received[m.source]!++;
    const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.length);
    if (data.length < 4 || data.readUInt32LE(0) !== i) {
      if (problems.length < 10)
        problems.push(
          `from rank ${m.source}: expected message ${i}, got ` +
            `${data.length < 4 ? `${data.length} bytes` : `message ${data.readUInt32LE(0)}`} (lost, duplicated or reordered)`,
        );
    } else if (!data.equals(message(m.source, rank, i))) {
      if (problems.length < 10) problems.push(`from rank ${m.source}: message ${i} arrived damaged`);
    }
  }
  await world.waitAll(sends);
  iterations++;
  if (iterations % 16 === 0) {
    const [stop] = await world.allreduce(Int32Array.of(existsSync(config.stopFile) ? 1 : 0), 'max');
    if (stop) break;
  }
}
const report: TrafficReport = { rank, iterations, received, problems };
console.log(`${TRAFFIC_PREFIX}${JSON.stringify(report)}`);
// No finalize(): the script returns, as mpi4py scripts do, and the runtime finalizes the rank at
// exit, once nothing keeps the event loop alive (rule script-end).
