/**
 * A rank's job controller (RankController) and the control plane on it, in a worker thread of
 * the controlling rank (controller-thread.ts): `switchyard ctl` and the other ranks' channels are
 * served even while that rank's main thread runs application code that does not yield.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ControlHost } from './job-types.js';
import { RankController, type RankControllerOptions } from './rank-controller.js';

export type ControllerWorkerData = Omit<RankControllerOptions, 'abort'> & {
  /** A module whose default export installs the control plane (the coordinator) on the host. */
  readonly controlPlane: string;
};

/** Worker -> main thread. */
export type ControllerWorkerMessage =
  | { readonly ready: { readonly uris: readonly string[] } }
  | { readonly failed: string }
  | { readonly abort: { readonly message: string; readonly code: number } }
  | { readonly closed: true };

const port = parentPort!;
const post = (message: ControllerWorkerMessage) => port.postMessage(message);
const { controlPlane, ...options } = workerData as ControllerWorkerData;

try {
  const install = ((await import(controlPlane)) as { default: (host: ControlHost) => void }).default;
  // PMIx lives on the main thread: it carries out an abort.
  const controller = await RankController.start({ ...options, abort: (message, code) => post({ abort: { message, code } }) });
  install(controller.host);
  port.on('message', (message: { close?: true }) => {
    if (!message.close) return;
    void controller.close().then(() => {
      post({ closed: true });
      port.close();
    });
  });
  post({ ready: { uris: controller.uris } });
} catch (err) {
  post({ failed: (err as Error).message });
  port.close();
}
