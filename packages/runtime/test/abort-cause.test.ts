import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FramedConnection } from '../src/framed-connection.js';
import { JobController } from '../src/job-controller.js';
import type { Message } from '../src/protocol.js';

interface FakeConnection {
  handlers?: { message(m: Message): void; close(): void };
}

function job(size: number) {
  const aborts: Array<[string, number]> = [];
  const controller = new JobController({
    jobId: 'j',
    jobDir: '/nonexistent',
    socketPath: '/nonexistent/hnp.sock',
    size,
    log: () => {},
    abort: (reason, code) => void aborts.push([reason, code]),
    isAborting: () => aborts.length > 0,
  });
  const connections = Array.from({ length: size }, (_, rank) => {
    const c: FakeConnection = {};
    const connection = { setHandlers: (h: FakeConnection['handlers']) => (c.handlers = h), send: () => {} };
    controller.rankStarted(rank, 1000 + rank);
    controller.rankConnected(rank, connection as unknown as FramedConnection);
    return c;
  });
  return { controller, aborts, connections };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("a rank's abort", () => {
  it('ends the job at once, naming that rank', () => {
    const { aborts, connections } = job(3);
    connections[0]!.handlers!.message({ type: 'abort', code: 4, message: 'bad input' });
    expect(aborts).toEqual([['rank 0 (pid 1000) called abort with code 4: bad input', 4]]);
  });

  it("waits for the exit of a peer that vanished first: that rank's death is the cause the job reports", () => {
    vi.useFakeTimers();
    const { controller, aborts, connections } = job(3);
    // Rank 2 is SIGKILLed: its connection closes, rank 0's fence fails and it aborts, before rank 2 is reaped.
    connections[2]!.handlers!.close();
    connections[0]!.handlers!.message({ type: 'abort', code: 1, message: "fence 'btl-modex' cannot complete: rank 2 closed" });
    expect(aborts).toEqual([]);
    // The launcher reaps rank 2 and aborts with its cause; rank 0's abort comes after and changes nothing.
    controller.rankExited(2, { code: null, signal: 'SIGKILL' });
    aborts.push(['rank 2 (pid 1002) was killed by signal SIGKILL', 137]);
    vi.advanceTimersByTime(1_000);
    expect(aborts).toEqual([['rank 2 (pid 1002) was killed by signal SIGKILL', 137]]);
  });

  it('still ends the job when the vanished peer is not reaped within a second', () => {
    vi.useFakeTimers();
    const { aborts, connections } = job(2);
    connections[1]!.handlers!.close();
    connections[0]!.handlers!.message({ type: 'abort', code: 1, message: 'lost rank 1' });
    vi.advanceTimersByTime(999);
    expect(aborts).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(aborts).toEqual([['rank 0 (pid 1000) called abort with code 1: lost rank 1', 1]]);
  });
});
