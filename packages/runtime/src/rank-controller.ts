import { networkInterfaces } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { controllerRecordPath, removeControllerRecord, writeControllerRecord } from './controller-record.js';
import { JobController } from './job-controller.js';
import type { ControlHost } from './job-types.js';
import { startTcpOobServer, type OobServer } from './oob-server.js';
import { parseTcpAddress } from './oob-tcp-auth.js';
import { RecordGuard } from './record-guard.js';

export interface RankControllerOptions {
  readonly jobId: string;
  readonly size: number;
  readonly secret: string;
  /** This node's name (the record's `host`). */
  readonly nodeName: string;
  readonly script: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** Ends the whole job (through the launcher that started it). */
  abort(message: string, exitCode: number): void;
  /** Where the record goes (default: $XDG_STATE_HOME/switchyard/jobs/<jobId>.json). */
  readonly recordPath?: string;
  /** Addresses to listen on (default: every non-loopback IPv4 address, then 127.0.0.1). */
  readonly hosts?: readonly string[];
}

/**
 * The job's controller when another launcher (mpirun, srun) started the ranks: what the HNP does
 * for `switchyard run`, run inside one rank. It listens on TCP, takes the ranks' control
 * connections and tools' connections (both authenticated with the job secret), and writes the
 * job record `switchyard ctl` finds it by. Its JobController is the ControlHost the coordinator
 * runs on.
 */
export class RankController {
  readonly host: ControlHost;
  readonly recordPath: string;
  readonly #server: OobServer;
  /** In a worker thread, the main thread guards the record (signals do not reach workers). */
  readonly #guard: RecordGuard | undefined;
  #closed: Promise<void> | undefined;

  private constructor(host: ControlHost, server: OobServer, recordPath: string) {
    this.host = host;
    this.#server = server;
    this.recordPath = recordPath;
    this.#guard = isMainThread ? new RecordGuard(recordPath) : undefined;
  }

  static async start(options: RankControllerOptions): Promise<RankController> {
    const recordPath = options.recordPath ?? controllerRecordPath(options.jobId);
    let aborting = false;
    let abortReason: string | undefined;
    const log = (line: string) => process.stderr.write(`switchyard controller (job ${options.jobId}): ${line}\n`);
    const controller = new JobController({
      jobId: options.jobId,
      jobDir: recordPath,
      socketPath: '',
      size: options.size,
      log,
      abort: (message, exitCode) => {
        aborting = true;
        abortReason ??= message;
        options.abort(message, exitCode);
      },
      isAborting: () => aborting,
      abortReason: () => abortReason,
      rankLossEndsJob: true,
    });
    const server = await startTcpOobServer({ hosts: options.hosts ?? usableHosts(), secret: options.secret, controller, log });
    const addresses = server.uris.map((uri) => {
      const { host, port } = parseTcpAddress(uri);
      return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    });
    writeControllerRecord(
      {
        jobId: options.jobId,
        size: options.size,
        controller: addresses[0]!,
        addresses,
        secret: options.secret,
        pid: process.pid,
        host: options.nodeName,
        started: new Date().toISOString(),
        script: options.script,
        args: options.args,
        cwd: options.cwd,
        launcher: 'pmix',
      },
      recordPath,
    );
    return new RankController(controller, server, recordPath);
  }

  /** `tcp://HOST:PORT` of every listener, as published to the ranks. */
  get uris(): readonly string[] {
    return this.#server.uris;
  }

  /** Removes the job record now (the job is being aborted, and this rank may be SIGKILLed). */
  dropRecord(): void {
    this.#guard?.release();
    removeControllerRecord(this.recordPath);
  }

  /** Stops listening and removes the record; idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#guard?.release();
      removeControllerRecord(this.recordPath);
      await this.#server.close();
    })();
    return this.#closed;
  }
}

/** Every non-loopback IPv4 address of this host, then loopback (for ranks on the same node). */
export function usableHosts(): string[] {
  const external = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address);
  return [...new Set(external), '127.0.0.1'];
}
