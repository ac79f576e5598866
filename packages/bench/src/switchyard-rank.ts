/**
 * The rank program of `switchyard bench` (started by it through launchJob, 2 ranks): joins the
 * job, then runs the phases of the plan (first argument) its gate hands out; rank 0 measures and
 * reports through the gate.
 */
import { init } from '@switchyard/mpi';
import { GateClient } from './gate-client.js';
import { serve } from './measure.js';
import { decodePlan } from './protocol.js';
import { SwitchyardPeer } from './switchyard-peer.js';

const plan = decodePlan(process.argv[2]);
const world = await init();
if (world.size !== 2) await world.abort(1, `switchyard bench: the rank program needs exactly 2 ranks, got ${world.size}`);
const side = world.rank === 0 ? 0 : 1;
// Connected only once init worked: a run is "ready" when its transports are.
const gate = await GateClient.connect(plan.gate, side);
await serve(side, new SwitchyardPeer(world), plan.phases, gate);
await world.finalize();
gate.close();
