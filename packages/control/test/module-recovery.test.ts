import { describe, expect, it } from 'vitest';
import type { ControlHost } from '@switchyard/runtime';
import { serveRecoveryRequests } from '../src/module-recovery.js';
import type { VerbResult } from '../src/protocol.js';

/** A coordinator whose verbs end when the test says: what it was asked, in order. */
function heldCoordinator() {
  const asked: number[][] = [];
  const finish: Array<() => void> = [];
  const run = (params: unknown) => {
    asked.push((params as { ranks: number[] }).ranks);
    return new Promise<VerbResult>((resolve) =>
      finish.push(() => resolve({ ok: true, outcome: 'done', verb: 'load', ms: 1, changes: [], errors: [] })));
  };
  return { asked, finish, run };
}

const turn = () => new Promise((r) => setTimeout(r, 0));

describe('a failed transport reloaded at the ranks\' request', () => {
  it('serves a rank asking while a reload runs for others right after it, not an interval later; none twice', async () => {
    let notify: (rank: number, body: unknown) => void = () => {};
    const job = { onNotify: (listener: typeof notify) => ((notify = listener), () => {}) } as unknown as ControlHost;
    const coordinator = heldCoordinator();
    const lines: string[] = [];
    serveRecoveryRequests(job, coordinator, (line) => lines.push(line));
    notify(0, { ctl: 'recover', btl: 'openib' });
    notify(3, { ctl: 'recover', btl: 'openib' });
    await new Promise((r) => setTimeout(r, 300));
    expect(coordinator.asked).toEqual([[0, 3]]);
    // While that load runs: rank 2 asks, and rank 3 again (its next interval).
    notify(2, { ctl: 'recover', btl: 'openib' });
    notify(3, { ctl: 'recover', btl: 'openib' });
    await turn();
    expect(coordinator.asked).toEqual([[0, 3]]);
    coordinator.finish.shift()!();
    await turn();
    expect(coordinator.asked).toEqual([[0, 3], [2]]);
    coordinator.finish.shift()!();
    await turn();
    expect(lines).toEqual([
      'switchyard: btl openib failed on ranks 0,3 and is back: reloaded there (1 ms)',
      'switchyard: btl openib failed on rank 2 and is back: reloaded there (1 ms)',
    ]);
  });
});
