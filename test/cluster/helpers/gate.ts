import { describe, inject, it } from 'vitest';

/**
 * Runs `body` as a describe block when the cluster is up. Otherwise one test stands in for it:
 * skipped with the reason when this machine lacks a prerequisite (and CI is not set), failed
 * with the reason when bring-up failed or CI expects the cluster tests to run.
 */
export function describeOnCluster(name: string, body: () => void): void {
  const state = inject('vcluster');
  if (state.up) {
    describe(name, body);
    return;
  }
  const reason = state.reason ?? 'the cluster is not up';
  if (state.unsupported && !process.env.CI) {
    describe(name, () => it.skip(`skipped: ${reason}`, () => {}));
    return;
  }
  describe(name, () =>
    it('has a two-host cluster to run on', () => {
      throw new Error(`cross-host tests could not run: ${reason}`);
    }),
  );
}
