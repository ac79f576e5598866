import { randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { DeviceInfo, PortInfo } from '../types.js';
import { VerbsError } from '../errors.js';
import { newSoftGid, newSoftGuid, pidOfAnySocketName, socketPathForGid } from './address.js';
import { MrTable } from './memory.js';
import type { SoftDeviceStatus } from './mgmt-protocol.js';
import { processDevices } from './process-devices.js';
import type { SoftQp } from './qp.js';
import { serveConnection } from './responder.js';
import { shmAddon, ShmHub } from './shm-hub.js';
import { sweepStaleSockets } from './runtime-dir.js';

/** Anything opened on the device that must hear about a reset. */
export interface DeviceUser {
  /** The device was reset: QPs to ERROR (flushing), everything else unusable. */
  deviceLost(): void;
  /** The port went DOWN: QPs to ERROR (flushing), PORT_ERR; the context stays usable. */
  portDown(): void;
  /** The port is ACTIVE again: PORT_ACTIVE. */
  portUp(): void;
  /** A peer's RDMA to one of our QPs violated access rights (raise QP_ACCESS_ERR if it is yours). */
  accessError(qp: SoftQp): void;
  /** Ref'd CQs: while any user has some, the device's socket keeps the event loop alive. */
  readonly holds: number;
}

/**
 * The one soft device of a provider ("soft0", port 1). It owns what an HCA owns: the QP number
 * space, the memory region table (keys), and its address, a GID naming the Unix socket it
 * listens on while open and its port is up. `reset()` is what a VM snapshot / migration does to
 * an HCA; `portDown()` / `portUp()` what pulling and plugging the cable does. The operator
 * triggers them from outside through the process's management socket (process-devices.ts).
 */
/**
 * The device sockets this process listens on. A process that ends through process.exit (a rank
 * whose launcher was SIGKILLed, an abort) never closes its servers: these are removed at exit,
 * so no socket file outlives its process.
 */
const listeningSockets = new Set<string>();
let exitHooked = false;

function removeAtExit(path: string): void {
  listeningSockets.add(path);
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    for (const p of listeningSockets) rmSync(p, { force: true });
  });
}

export class SoftDevice {
  readonly name = 'soft0';
  readonly guid = newSoftGuid();
  readonly mrs = new MrTable();
  readonly qps = new Map<number, SoftQp>();
  #gid = newSoftGid();
  #server?: Server;
  #socketPath?: string;
  #connections = new Set<Socket>();
  #users = new Set<DeviceUser>();
  #nextQpn = randomInt(0x100, 0x8000);
  #hub?: ShmHub;

  constructor(readonly dir: string) {}

  get gid(): string {
    return this.#gid;
  }

  port(): PortInfo {
    return {
      port: 1,
      state: processDevices.isDown(this.name) ? 'DOWN' : 'ACTIVE',
      lid: 0,
      gid: this.#gid,
      mtu: 4096,
      linkLayer: 'ETHERNET',
    };
  }

  info(): DeviceInfo {
    return { name: this.name, guid: this.guid, ports: [this.port()] };
  }

  /** The shared-memory side of the device while it is open, when this process can share memory. */
  get hub(): ShmHub | undefined {
    return this.#hub;
  }

  socketPathFor(gid: string): string {
    return socketPathForGid(this.dir, gid);
  }

  /** RoCE-like: with the port down its GID leaves the GID table, so no QP can be connected. */
  checkPortActive(call: string): void {
    if (processDevices.isDown(this.name)) throw VerbsError.of(call, 'EINVAL', `port 1 of ${this.name} is DOWN`);
  }

  status(): SoftDeviceStatus {
    const state = processDevices.isDown(this.name) ? 'DOWN' : 'ACTIVE';
    return {
      device: this.name,
      gid: this.#users.size ? this.#gid : null,
      port: 1,
      state,
      contexts: this.#users.size,
      queuePairs: this.qps.size,
    };
  }

  allocQpn(): number {
    do this.#nextQpn = (this.#nextQpn + 1) & 0xff_ffff || 1;
    while (this.qps.has(this.#nextQpn));
    return this.#nextQpn;
  }

  /** A context opened: the first one starts listening on the device's socket. */
  attach(user: DeviceUser): void {
    this.#users.add(user);
    if (this.#users.size === 1) processDevices.opened(this);
    if (!this.#hub) this.#openHub();
    if (!this.#server && !processDevices.isDown(this.name)) this.#listen();
    this.updateRef();
  }

  /** A context closed: the last one stops listening. */
  detach(user: DeviceUser): void {
    if (!this.#users.delete(user)) return;
    if (this.#users.size === 0) {
      this.#stopListening();
      this.#closeHub();
      processDevices.closed(this);
    } else this.updateRef();
  }

  /** Keeps the loop alive exactly while some open context has a ref'd CQ. */
  updateRef(): void {
    const hold = [...this.#users].some((u) => u.holds > 0);
    if (hold) this.#server?.ref();
    else this.#server?.unref();
    this.#hub?.ref(hold);
  }

  /**
   * Device reset (the fault a VM snapshot or migration injects into an HCA): every QP moves to
   * ERROR and flushes its work requests, every memory registration is gone, connections drop,
   * open contexts become unusable (calls fail with EIO), and the device comes back at a new
   * address for whoever opens it next.
   */
  reset(): void {
    const users = [...this.#users];
    this.#users.clear();
    this.#stopListening();
    processDevices.closed(this);
    for (const user of users) user.deviceLost();
    // Withdrawn from the published table before the hub goes: peers must not reach them any more.
    this.mrs.clear();
    this.#closeHub();
    this.qps.clear();
    this.#gid = newSoftGid();
  }

  /**
   * The port went DOWN (cable pulled, switch port disabled): nothing reaches the device any more,
   * so its socket closes and peers' requests fail their transport retries; every QP moves to
   * ERROR and flushes; contexts stay open (PORT_ERR, not DEVICE_FATAL) and see the port DOWN.
   */
  portDown(): void {
    this.#stopListening();
    for (const user of this.#users) user.portDown();
  }

  /** The port is ACTIVE again at the same address; QPs in ERROR stay there, new ones work. */
  portUp(): void {
    if (this.#users.size && !this.#server) {
      this.#listen();
      this.updateRef();
    }
    for (const user of this.#users) user.portUp();
  }

  #listen(): void {
    sweepStaleSockets(this.dir, pidOfAnySocketName);
    const server = createServer((socket) => {
      this.#connections.add(socket);
      socket.once('close', () => this.#connections.delete(socket));
      serveConnection(socket, {
        findQp: (qpn) => this.qps.get(qpn),
        onAccessError: (qp) => this.#onAccessError(qp),
        hub: () => this.#hub,
      });
    });
    server.on('error', (err) => {
      // The socket could not be bound (e.g. the runtime dir vanished): peers will not reach
      // us, which they see as transport retries; say why once.
      process.emitWarning(`soft verbs device ${this.name} at ${this.#gid}: ${err.message}`, 'SwitchyardSoftVerbs');
    });
    // A socket file already at our address names our pid: a process of that pid before us left it
    // (killed, or the original of a job CRIU restored), since no other live process has our pid.
    const path = socketPathForGid(this.dir, this.#gid);
    rmSync(path, { force: true });
    // listen() on a path binds synchronously inside libuv; only 'listening' is deferred.
    server.listen(path);
    server.unref();
    this.#server = server;
    this.#socketPath = path;
    removeAtExit(path);
  }

  #stopListening(): void {
    this.#server?.close();
    this.#server = undefined;
    if (this.#socketPath) listeningSockets.delete(this.#socketPath);
    this.#socketPath = undefined;
    for (const socket of this.#connections) socket.destroy();
    this.#connections.clear();
  }

  #openHub(): void {
    const addon = shmAddon();
    if (!addon) return;
    try {
      this.#hub = new ShmHub(addon);
    } catch (err) {
      // No room in /dev/shm, no descriptor left: this device stays on its sockets.
      const why = (err as Error).message;
      process.emitWarning(`soft verbs device ${this.name}: no shared memory (${why}); using sockets`, 'SwitchyardSoftVerbs');
      return;
    }
    this.mrs.publication = this.#hub.publication;
  }

  #closeHub(): void {
    this.#hub?.close();
    this.#hub = undefined;
    this.mrs.publication = undefined;
  }

  #onAccessError(qp: SoftQp): void {
    for (const user of this.#users) user.accessError(qp);
  }
}
