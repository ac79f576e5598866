import { spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { allowedCpus, planBindings, type BindPolicy } from '@switchyard/runtime/cpu-binding';
import { BenchRunError } from './errors.js';
import { spawnLogged, type LoggedChild } from './logged-child.js';
import { encodePlan, type RunPlan } from './protocol.js';
import type { RunContext } from './run-context.js';
import { benchProgram } from './scripts.js';
import { rawTransportName } from './transport-names.js';
import type { ProgressMode, RawSocket } from './types.js';
import { benchTempDir } from './temp-dirs.js';

const LOOPBACK = '127.0.0.1';
const KILL_GRACE_MS = 1000;

/**
 * Both ends of one TCP connection over 127.0.0.1. The bench makes the connection and hands each
 * end to a peer process as its fd 3, so both peers get a client-style socket they can read with
 * `onread` (a server's accepted sockets cannot take that option).
 */
async function loopbackPair(): Promise<[Socket, Socket]> {
  const server = createServer({ pauseOnConnect: true });
  try {
    server.listen(0, LOOPBACK);
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const [client, peer] = await connectTo(server, () => connect({ host: LOOPBACK, port }));
    if (peer.remotePort !== client.localPort) {
      peer.destroy();
      client.destroy();
      throw new BenchRunError('raw-node-tcp: an unexpected process connected to the bench socket');
    }
    return [client, peer];
  } finally {
    server.close();
  }
}

/**
 * Both ends of one Unix domain stream connection, made as loopbackPair makes the TCP one. The
 * socket's path is in a folder of its own that only this user can enter (mkdtemp makes it
 * 0700), so no other user's process can connect first; path and folder are gone when this
 * settles, the connection lives on in its two ends.
 */
async function unixPair(): Promise<[Socket, Socket]> {
  const dir = benchTempDir('uds');
  const server = createServer({ pauseOnConnect: true });
  try {
    const path = join(dir, 'raw.sock');
    server.listen(path);
    await once(server, 'listening');
    return await connectTo(server, () => connect({ path }));
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Connects a client made by `dial` to `server`: [client end, accepted end], both paused. */
async function connectTo(server: Server, dial: () => Socket): Promise<[Socket, Socket]> {
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = dial();
  await once(client, 'connect');
  client.pause();
  const [peer] = await accepted;
  return [client, peer];
}

let tasksetFound: boolean | undefined;
const tasksetInstalled = () => (tasksetFound ??= !spawnSync('taskset', ['--version'], { stdio: 'ignore' }).error);

/**
 * The core each raw peer is bound to, as `switchyard run` and mpirun bind their two ranks (so a
 * raw row is measured with the processes placed as the rows it is compared with), or undefined
 * to leave them to the scheduler. Unset policy: mpirun's default, and unbound without taskset,
 * as the launcher does.
 */
export function rawBindings(bindTo: BindPolicy | undefined): number[] | undefined {
  let cores: number[] | undefined;
  try {
    cores = planBindings(2, bindTo, allowedCpus());
  } catch (error) {
    throw new BenchRunError((error as Error).message);
  }
  if (!cores || tasksetInstalled()) return cores;
  if (bindTo === 'core') throw new BenchRunError('--bind-to core: taskset (util-linux) is not installed; use --bind-to none');
  return undefined;
}

/**
 * Runs the plan as a raw Node baseline: two plain Node processes (bench/raw-tcp-peer.js) over
 * one connection, loopback TCP or a Unix domain socket, placed as `bindTo` says (see
 * rawBindings). Both processes are gone when this settles, also on abort.
 */
export async function runRaw(
  socket: RawSocket,
  mode: ProgressMode,
  plan: RunPlan,
  bindTo: BindPolicy | undefined,
  ctx: RunContext,
): Promise<void> {
  if (ctx.signal.aborted) return;
  const name = rawTransportName(socket);
  const script = benchProgram('raw-tcp-peer');
  const cores = rawBindings(bindTo);
  const sockets = socket === 'tcp' ? await loopbackPair() : await unixPair();
  const peers: LoggedChild[] = [];
  try {
    for (const side of [0, 1]) {
      const options = { cwd: ctx.cwd, env: ctx.env, stdio: ['ignore', 'pipe', 'pipe', sockets[side]!] } satisfies SpawnOptions;
      const command = [process.execPath, script, String(side), encodePlan(plan), mode];
      // Bound before Node starts, so every thread it makes is bound too.
      if (cores) command.unshift('taskset', '-c', String(cores[side]));
      peers.push(spawnLogged(command[0]!, command.slice(1), options, ctx));
    }
  } finally {
    // The children hold their own copies of the sockets now.
    sockets.forEach((s) => s.destroy());
  }

  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    peers.forEach((p) => kill(p.child, 'SIGTERM'));
    killTimer ??= setTimeout(() => peers.forEach((p) => kill(p.child, 'SIGKILL')), KILL_GRACE_MS);
  };
  if (ctx.signal.aborted) stop();
  else ctx.signal.addEventListener('abort', stop, { once: true });
  // One peer failing leaves the other waiting on the socket: end it too.
  peers.forEach((p) => void p.exited.then((e) => (e.code !== 0 ? stop() : undefined)));
  try {
    const exits = await Promise.all(peers.map((p) => p.exited));
    if (ctx.signal.aborted) return;
    const failed = exits.findIndex((e) => e.code !== 0);
    if (failed >= 0) {
      const e = exits[failed]!;
      const how = e.signal ? `was killed by ${e.signal}` : e.code === null ? 'could not be started' : `exited with code ${e.code}`;
      const why = peers[failed]!.stderr.at(-1);
      throw new BenchRunError(`${name} peer ${failed} ${how}${why ? `: ${why}` : ''}`);
    }
  } finally {
    clearTimeout(killTimer);
    ctx.signal.removeEventListener('abort', stop);
  }
}

function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    child.kill(signal);
  } catch {
    // gone already
  }
}
