import { describe, expect, it } from 'vitest';
import { describeProgress, renderStatus, summarizeErrors } from '../src/ctl/render.js';
import type { CtlStatus } from '../src/coordinator.js';
import type { RankStatus } from '../src/protocol.js';

const rank = (r: number, extra: Partial<RankStatus> = {}): RankStatus => ({
  rank: r,
  pid: 100 + r,
  hostname: 'node1',
  components: [{ name: 'tcp', checkpointable: true, modules: ['tcp'] }],
  peers: [],
  traffic: [],
  runtimeParams: {},
  ...extra,
});

describe('ctl output for a rank busy in application code', () => {
  it('names the busy ranks a verb waits for, with how long', () => {
    expect(
      describeProgress({
        verb: 'switch tcp',
        phase: 'prepare',
        done: 2,
        total: 4,
        busy: [
          { rank: 1, forMs: 3412 },
          { rank: 3, forMs: 250 },
        ],
      }),
    ).toBe(
      'switch tcp: prepare 2/4 ranks; waiting for rank 1: busy in application code for 3.4 s; waiting for rank 3: busy in application ' +
        'code for 0.3 s',
    );
    expect(describeProgress({ verb: 'switch tcp', phase: 'commit', done: 1, total: 2 })).toBe('switch tcp: commit 1/2 ranks');
  });

  it('shows a busy rank as such, above what it published before', () => {
    const status: CtlStatus = {
      jobId: 'j',
      size: 2,
      pid: 1,
      script: '',
      args: [],
      started: '',
      ranks: [rank(0), rank(1, { busy: { forMs: 12_345 } })],
    };
    const text = renderStatus(status);
    expect(text).toContain(
      'rank 1 (pid 101 on node1):\n  busy in application code for 12.3 s (takes verbs when its code next waits); as it was ' +
        'before:\n  components: tcp [tcp] (checkpointable)\n',
    );
    expect(text).toContain('rank 0 (pid 100 on node1):\n  components: tcp');
  });
});

describe('summarizeErrors', () => {
  it('says a refusal every rank gave once, with the ranks it came from', () => {
    const errors = [0, 1, 2, 5].map((rank) => ({
      rank,
      message: `rank ${rank}: btl 'foo' is not loaded on rank ${rank} (loaded: self, tcp)`,
    }));
    expect(summarizeErrors(errors)).toBe("ranks 0-2,5: btl 'foo' is not loaded on each (loaded: self, tcp)");
  });

  it('makes the verb after the ranks plural', () => {
    const errors = [0, 1, 2, 3].map((rank) => ({
      rank,
      message: `rank ${rank} is already prepared for a checkpoint; run 'checkpoint continue' first`,
    }));
    expect(summarizeErrors(errors)).toBe("ranks 0-3 are already prepared for a checkpoint; run 'checkpoint continue' first");
    const one = [{ rank: 2, message: 'rank 2 has no checkpoint prepared' }];
    expect(summarizeErrors(one)).toBe('rank 2 has no checkpoint prepared');
  });

  it('keeps distinct reasons apart, and errors of no rank as they are', () => {
    const errors = [
      { rank: 0, message: "rank 0: btl 'foo' is not loaded on rank 0 (loaded: self, tcp)" },
      { rank: 1, message: "rank 1: btl 'foo' is not loaded on rank 1 (loaded: self, sm)" },
      { message: 'the coordinator timed out' },
    ];
    expect(summarizeErrors(errors)).toBe(
      "rank 0: btl 'foo' is not loaded on rank 0 (loaded: self, tcp); rank 1: btl 'foo' is not loaded on rank 1 (loaded: self, sm); " +
        'the coordinator timed out',
    );
  });
});
