import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pidOfMgmtSocketName, socketPathForGid } from '../src/soft/address.js';
import { createSoftProvider } from '../src/soft/provider.js';
import { softVerbsDir } from '../src/soft/runtime-dir.js';

/** This process's management sockets (one exists while a soft device is open here). */
function ownSockets(): string[] {
  return readdirSync(softVerbsDir())
    .filter((n) => pidOfMgmtSocketName(n) === process.pid)
    .map((n) => join(softVerbsDir(), n));
}

/** Sends raw text, resolves with the reply lines once the process closed or answered `lines` times. */
function exchange(path: string, text: string, lines = 1): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffered = '';
    const done = (): void => {
      socket.destroy();
      resolve(
        buffered
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
    };
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.split('\n').length > lines) done();
    });
    socket.on('end', done);
    socket.write(text);
  });
}

describe('the management socket of a process with a soft device open', () => {
  it('exists only while a device is open, answers list, and refuses malformed or late requests with typed codes', async () => {
    // Another test file that ran in this worker process may have left its own (module state is
    // per file, the process is shared): only the socket this test's device brings counts.
    const before = ownSockets();
    const ctx = createSoftProvider().open('soft0');
    const added = ownSockets().filter((p) => !before.includes(p));
    expect(added).toHaveLength(1);
    const path = added[0]!;
    try {
      const [list] = await exchange(path, '{"op":"list"}\n');
      expect(list).toEqual({
        ok: true,
        pid: process.pid,
        devices: [{ device: 'soft0', gid: ctx.queryPort(1).gid, port: 1, state: 'ACTIVE', contexts: 1, queuePairs: 0 }],
      });

      const refusals = await exchange(
        path,
        ['not json', '7', '{"op":"pull"}', '{"op":"fail"}', '{"op":"list","deadline":"soon"}', ''].join('\n'),
        5,
      );
      expect(refusals.map((r) => [r.ok, r.code, r.message])).toEqual([
        [false, 'ERR_SOFT_VERBS_PROTOCOL', 'the request is not JSON'],
        [false, 'ERR_SOFT_VERBS_PROTOCOL', 'the request is not an object'],
        [false, 'ERR_SOFT_VERBS_PROTOCOL', 'unknown op "pull" (list, reset, fail, restore)'],
        [false, 'ERR_SOFT_VERBS_PROTOCOL', 'fail needs a device name'],
        [false, 'ERR_SOFT_VERBS_PROTOCOL', 'deadline must be a number (ms since the epoch)'],
      ]);

      // A request whose client already gave up is not applied (the device stays up).
      const [late] = await exchange(path, `${JSON.stringify({ op: 'fail', device: 'soft0', deadline: Date.now() - 1000 })}\n`);
      expect(late).toMatchObject({ ok: false, code: 'ERR_SOFT_VERBS_TIMEOUT' });
      expect(late!.message).toMatch(/after the client gave up .*; not applied$/);
      expect(ctx.queryPort(1).state).toBe('ACTIVE');

      const [long] = await exchange(path, 'x'.repeat(8192));
      expect(long).toMatchObject({ ok: false, code: 'ERR_SOFT_VERBS_PROTOCOL', message: 'a request longer than 4096 bytes' });
    } finally {
      ctx.close();
    }
    expect(existsSync(path)).toBe(false);
  });

  it('takes its address back from a file a process of its pid left there (a job CRIU restored after its original was killed)', async () => {
    const before = ownSockets();
    const ctx = createSoftProvider().open('soft0');
    const path = ownSockets().filter((p) => !before.includes(p))[0]!;
    try {
      const gid = ctx.queryPort(1).gid;
      const address = socketPathForGid(softVerbsDir(), gid);
      expect(statSync(address).isSocket()).toBe(true);
      expect(await exchange(path, '{"op":"fail","device":"soft0"}\n')).toMatchObject([{ ok: true }]);
      // The port is down, its socket gone; what the killed original left has our name.
      writeFileSync(address, '');
      expect(await exchange(path, '{"op":"restore","device":"soft0"}\n')).toMatchObject([{ ok: true }]);
      expect(ctx.queryPort(1)).toMatchObject({ gid, state: 'ACTIVE' });
      expect(statSync(address).isSocket()).toBe(true);
    } finally {
      ctx.close();
    }
  });
});
