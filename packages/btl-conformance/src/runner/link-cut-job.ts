import type { Setup } from '../options.js';
import { LinkCutter } from './link-cutter.js';
import type { Outcome } from './outcome.js';
import { runSideJob } from './side-job.js';
import { Stopper } from './stopper.js';

/**
 * Rule link-cut: a side job of 2 ranks whose live connections of the component under test the
 * kit's runner cuts from outside while rank 1 is stopped with sends to it pending (see
 * LinkCutter); the ranks then check what the BML needs of a link that failed and stays in use.
 */
export function runLinkCutJob(setup: Setup): Promise<Outcome> {
  return runSideJob(setup, 2, { component: setup.component, rule: 'link-cut', waitMs: setup.waitMs }, (scratch, jobPid) => [
    new Stopper(scratch, jobPid),
    new LinkCutter(scratch),
  ]);
}
