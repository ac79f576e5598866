/**
 * The worker thread of a rank's activity monitor (activity-monitor.ts). It holds its own
 * connection to the launcher (role `monitor`) and tells it when the main thread stops turning its
 * event loop (busy in application code), every HEARTBEAT_MS while that lasts, and when it is free
 * again, with the last snapshot the main thread published. It never touches the main thread's
 * state: it reads one shared timestamp and receives snapshots by postMessage.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BUSY_AFTER_MS, CHECK_MS, HEARTBEAT_MS } from './activity-timing.js';
import type { FramedConnection } from './framed-connection.js';
import { openOobConnection } from './oob-client.js';

export interface ActivityWorkerData {
  readonly uri: string;
  readonly jobId: string;
  readonly rank: number;
  readonly secret: string;
  /** [0]: Date.now() of the main thread's last beat. */
  readonly beat: BigInt64Array;
}

const { uri, jobId, rank, secret, beat } = workerData as ActivityWorkerData;
let connection: FramedConnection | undefined;
let snapshot: unknown;
/** The snapshot changed since the launcher last got one. */
let snapshotDirty = false;
let busy = false;
let lastSent = 0;
let lastCheck = Date.now();

const stop = () => {
  clearInterval(timer);
  connection?.destroy();
  parentPort?.close();
};

parentPort?.on('message', (message: { snapshot?: string; stop?: true }) => {
  if (message.stop) return stop();
  if (typeof message.snapshot === 'string') {
    snapshot = JSON.parse(message.snapshot);
    snapshotDirty = true;
  }
});

const send = (busyMs: number | null) => {
  const fields = snapshotDirty && busyMs !== null ? { snapshot } : {};
  if (connection?.send({ type: 'activity', busyMs, ...fields })) {
    if ('snapshot' in fields) snapshotDirty = false;
    lastSent = Date.now();
  }
};

const check = () => {
  const now = Date.now();
  // This thread was not scheduled either (SIGSTOP, an overloaded host): the whole process
  // stood still, which says nothing about the main thread's code.
  const stalled = now - lastCheck > BUSY_AFTER_MS;
  lastCheck = now;
  if (stalled || !connection) return;
  const sinceBeat = now - Number(Atomics.load(beat, 0));
  if (sinceBeat > BUSY_AFTER_MS) {
    if (!busy || now - lastSent >= HEARTBEAT_MS) send(sinceBeat);
    busy = true;
  } else if (busy) {
    busy = false;
    send(null);
  }
};
const timer = setInterval(check, CHECK_MS);

openOobConnection(uri, { type: 'hello', role: 'monitor', rank, secret, pid: process.pid }, { message: () => {}, close: stop }).then(
  ({ connection: c, welcome }) => {
    if (welcome.jobId !== jobId) return void c.destroy();
    connection = c;
  },
  // A launcher without monitors (or one going away): the rank works as before, only unmonitored.
  stop,
);
