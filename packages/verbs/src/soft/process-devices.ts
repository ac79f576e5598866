import type { SoftDevice } from './device.js';
import {
  SoftVerbsAdminCodes,
  type MgmtAction,
  type SoftVerbsAdminCode,
  type MgmtReply,
  type MgmtRequest,
  type SoftDeviceStatus,
} from './mgmt-protocol.js';
import { MgmtServer } from './mgmt-server.js';

/**
 * This process's soft devices as the operator sees them: the open ones, and the ports taken
 * down from outside. A port's administrative state belongs to the process, not to one provider
 * instance, as a pulled cable belongs to the machine: while `soft0` is down, a provider created
 * anew (openib loaded again) finds its port DOWN too, until `restore`.
 *
 * The management socket exists while the process has a device open or a port down (restore must
 * still reach it after openib was unloaded), one per soft-verbs folder in use.
 */
class ProcessDevices {
  readonly #open = new Set<SoftDevice>();
  /** Ports taken down, by device name, with the folder the device lived in. */
  readonly #down = new Map<string, string>();
  readonly #servers = new Map<string, MgmtServer>();
  #exitHook = false;

  isDown(name: string): boolean {
    return this.#down.has(name);
  }

  opened(device: SoftDevice): void {
    this.#open.add(device);
    this.#sync();
  }

  closed(device: SoftDevice): void {
    if (this.#open.delete(device)) this.#sync();
  }

  handle(request: MgmtRequest): MgmtReply {
    if (request.op === 'list') return { ok: true, pid: process.pid, devices: this.#status() };
    const acted = [...this.#open].filter((d) => d.name === request.device);
    const problem = this.#apply(request.op, request.device);
    if (problem) return { ok: false, pid: process.pid, ...problem };
    // The devices acted on, as they are now (a reset one is no longer open).
    const devices = acted.length ? acted.map((d) => d.status()) : [closedStatus(request.device, this.#down.has(request.device))];
    return { ok: true, pid: process.pid, devices };
  }

  /** Applies an operator's action; returns what was wrong, or undefined when done. */
  #apply(action: MgmtAction, name: string): { code: SoftVerbsAdminCode; message: string } | undefined {
    const open = [...this.#open].filter((d) => d.name === name);
    if (!open.length && !this.#down.has(name)) {
      const known = [...new Set([...[...this.#open].map((d) => d.name), ...this.#down.keys()])];
      return {
        code: SoftVerbsAdminCodes.NO_DEVICE,
        message: `process ${process.pid} has no soft verbs device '${name}' (it has ${known.join(', ') || 'none open'})`,
      };
    }
    switch (action) {
      case 'reset':
        if (!open.length)
          return {
            code: SoftVerbsAdminCodes.NOT_OPEN,
            message: `${name} of process ${process.pid} is not open: there is nothing to reset`,
          };
        for (const device of open) device.reset();
        return undefined;
      case 'fail':
        if (!this.#down.has(name)) {
          this.#down.set(name, open[0]!.dir);
          for (const device of open) device.portDown();
        }
        this.#sync();
        return undefined;
      case 'restore':
        if (this.#down.delete(name)) for (const device of open) device.portUp();
        this.#sync();
        return undefined;
    }
  }

  #status(): SoftDeviceStatus[] {
    const out: SoftDeviceStatus[] = [...this.#open].map((d) => d.status());
    for (const name of this.#down.keys()) {
      if (!out.some((s) => s.device === name)) out.push(closedStatus(name, true));
    }
    return out;
  }

  /** Runs a management server in exactly the folders in use. */
  #sync(): void {
    const dirs = new Set([...[...this.#open].map((d) => d.dir), ...this.#down.values()]);
    for (const [dir, server] of this.#servers) {
      if (dirs.has(dir)) continue;
      server.stop();
      this.#servers.delete(dir);
    }
    for (const dir of dirs) {
      if (this.#servers.has(dir)) continue;
      const server = new MgmtServer(dir, (request) => this.handle(request));
      server.start();
      this.#servers.set(dir, server);
    }
    if (!this.#exitHook && this.#servers.size) {
      this.#exitHook = true;
      // A process that exits with a port down (or a device open) leaves no socket behind.
      process.once('exit', () => {
        for (const server of this.#servers.values()) server.unlinkNow();
      });
    }
  }
}

/** A device nothing has open: no address, no contexts. */
function closedStatus(device: string, down: boolean): SoftDeviceStatus {
  return { device, gid: null, port: 1, state: down ? 'DOWN' : 'ACTIVE', contexts: 0, queuePairs: 0 };
}

export const processDevices = new ProcessDevices();
