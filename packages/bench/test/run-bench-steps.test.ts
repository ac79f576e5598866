import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { GateChannel } from '../src/gate-server.js';
import { buildPhases } from '../src/plan.js';
import { ProgressDisplay } from '../src/progress.js';
import { warmUp, type Session } from '../src/run-bench.js';
import { WARMUP_ROUNDS } from '../src/warm-up.js';

/** A run whose side 0 answers each step at once, recording which phase it was asked for. */
function fakeSession(asked: number[]): Session {
  const channel = new GateChannel();
  channel.send = (message) => {
    if (!('go' in message)) return;
    asked.push(message.go);
    queueMicrotask(() => channel.report({ phase: message.go, step: message.step, ms: 0.01 }));
  };
  return {
    transport: { kind: 'raw', socket: 'tcp' },
    name: 'fake',
    channel,
    result: { transport: 'fake', mode: 'sleep', latency: [], bandwidth: [] },
    exited: Promise.resolve(),
    end: () => {},
  };
}

describe("a size's warm-up", () => {
  it('runs that size, not the first one', async () => {
    const phases = buildPhases(['latency'], [0, 256 * 1024], 0.01);
    const asked: number[] = [];
    const quiet = new ProgressDisplay(new Writable({ write: (_chunk, _encoding, done) => done() }));
    const turns = { mode: 'sleep' as const, display: quiet, signal: new AbortController().signal, timeoutMs: 10_000, phases: 2 };
    await warmUp([fakeSession(asked)], 1, phases[1]!, turns, 0);
    expect(asked.length).toBeGreaterThanOrEqual(WARMUP_ROUNDS);
    expect(new Set(asked)).toEqual(new Set([1]));
  });
});
