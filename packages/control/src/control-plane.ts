import type { ControlHost } from '@switchyard/runtime';
import { installCoordinator } from './coordinator.js';

/**
 * The control plane as the job's controller thread loads it under a PMIx launcher
 * (`WireUpOptions.controlPlane`): the coordinator, beside the controller, off the controlling
 * rank's main thread.
 */
export default function installControlPlane(host: ControlHost): void {
  installCoordinator(host);
}
