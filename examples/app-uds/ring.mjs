// Passes a token around the ring of ranks.
import { init } from '@switchyard/mpi';

const world = await init();
const { rank, size } = world;
const next = (rank + 1) % size;
const prev = (rank + size - 1) % size;
if (rank === 0) await world.send(Buffer.from('token'), next, 1);
const { data } = await world.recv(prev, 1);
if (rank !== 0) await world.send(data, next, 1);
console.log(`rank ${rank} of ${size} got '${Buffer.from(data).toString()}' from rank ${prev}`);
await world.finalize();
