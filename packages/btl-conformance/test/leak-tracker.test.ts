import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LeakTracker } from '../src/rank/leak-tracker.js';

describe('LeakTracker', () => {
  it('counts a server left open, not a crypto job that ends on its own (a sync one is destroyed only by the GC)', async () => {
    const tracker = new LeakTracker();
    tracker.start();
    tracker.forget();
    for (let i = 0; i < 10; i++) randomBytes(16);
    const server = createServer().listen(0, '127.0.0.1');
    try {
      expect(Object.fromEntries(await tracker.leftOpen(0))).toEqual({ TCPSERVERWRAP: 1 });
    } finally {
      server.close();
    }
  });
});
