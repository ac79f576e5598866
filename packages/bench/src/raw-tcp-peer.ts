/**
 * One of the two processes of a raw Node baseline (started by `switchyard bench`):
 * `node raw-tcp-peer.js SIDE PLAN sleep|busy`, with the connected socket as fd 3: loopback TCP
 * (raw-node-tcp) or a Unix domain stream socket (raw-node-uds; Node opens it as a pipe). Runs
 * the phases its gate hands out; side 0 measures and reports through the gate. Exits when the
 * gate says the run is over or when the bench goes away.
 */
import { once } from 'node:events';
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { GateClient } from './gate-client.js';
import { serve } from './measure.js';
import { decodePlan } from './protocol.js';
import { FrameReader } from './raw-frame-reader.js';
import { RawTcpPeer } from './raw-peer.js';

const SOCKET_FD = 3;

function fail(message: string): never {
  process.stderr.write(`raw-tcp-peer ${process.argv[2]}: ${message}\n`);
  process.exit(1);
}

const side = process.argv[2] === '0' ? 0 : process.argv[2] === '1' ? 1 : fail(`side must be 0 or 1, got '${process.argv[2]}'`);
const plan = decodePlan(process.argv[3]);
const busy = process.argv[4] === 'busy';

const reader = new FrameReader(Math.max(4, ...plan.phases.map((p) => p.size)), busy);
// Node reads `onread` for any socket; its typings declare it for connect() only.
const socketOptions: SocketConstructorOpts & { onread: OnReadOpts } = {
  fd: SOCKET_FD,
  readable: true,
  writable: true,
  onread: reader.onread,
};
const socket = new Socket(socketOptions);
// A no-op on a Unix domain socket, which has no Nagle delay to turn off.
socket.setNoDelay(true);
// The other side closing early is its failure: the bench sees it exit and ends this one too.
socket.on('error', (err) => fail(`socket error: ${err.message}`));

const gate = await GateClient.connect(plan.gate, side);
await serve(side, new RawTcpPeer(side, socket, reader), plan.phases, gate);
socket.end();
if (!socket.closed) await once(socket, 'close');
gate.close();
process.exit(0);
