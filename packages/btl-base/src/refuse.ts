import type { SendCompletion } from '@switchyard/btl-interface';

/**
 * Completes a refused fragment with `error` after send() has returned: the caller must not see
 * its failure inside its own send call (the conformance kit's rule `refusals` checks it).
 */
export function refuseLater(done: SendCompletion | undefined, error: Error): void {
  if (done) process.nextTick(done, error);
}
