import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from '../src/frames.js';
import type { FramedConnection } from '../src/framed-connection.js';
import type { JobController } from '../src/job-controller.js';
import { helloMac, newNonce, parseTcpAddress } from '../src/oob-tcp-auth.js';
import { HELLO_MAX_BYTES, pendingHelloLimit, startTcpOobServer, type OobServer } from '../src/oob-server.js';

// The controller's listening side before a hello: what an unauthenticated caller can make it hold.
const SECRET = 'a'.repeat(64);
const SIZE = 2;
let server: OobServer | undefined;
const sockets: Socket[] = [];
const logged: string[] = [];
const tools: FramedConnection[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.close();
  server = undefined;
  logged.length = 0;
  tools.length = 0;
});

async function start(helloTimeoutMs?: number): Promise<number> {
  const controller = { jobId: 'job-1', size: SIZE, toolConnected: (c: FramedConnection) => tools.push(c) } as unknown as JobController;
  server = await startTcpOobServer({ hosts: ['127.0.0.1'], secret: SECRET, controller, log: (l) => logged.push(l), helloTimeoutMs });
  return parseTcpAddress(server.uris[0]!).port;
}

/** A raw client: collects the frames the controller sends and notes the close. */
function client(port: number): { socket: Socket; frames: Array<Record<string, unknown>>; closed: Promise<void> } {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  sockets.push(socket);
  const frames: Array<Record<string, unknown>> = [];
  const decoder = new FrameDecoder();
  socket.on('data', (chunk: Buffer) => frames.push(...(decoder.push(chunk) as Array<Record<string, unknown>>)));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return { socket, frames, closed };
}

async function until(what: string, check: () => boolean): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > 5000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A tool that knows the secret still gets in. */
async function toolGetsIn(port: number): Promise<void> {
  const before = tools.length;
  const c = client(port);
  await until('the challenge', () => c.frames.length > 0);
  const nonce = newNonce();
  const mac = helloMac(SECRET, 'tool', undefined, String(c.frames[0]!.nonce), nonce);
  c.socket.write(encodeFrame({ type: 'hello', role: 'tool', pid: 1, nonce, mac }));
  await until('the welcome', () => c.frames.some((f) => f.type === 'welcome'));
  expect(tools.length).toBe(before + 1);
}

describe('the controller before a hello', () => {
  it('closes a connection whose first frame is larger than a hello, at its header', async () => {
    const port = await start();
    const c = client(port);
    const header = Buffer.alloc(4);
    header.writeUInt32LE(100 * 1024 * 1024);
    // The header and 1 MiB of the announced 100: closed without waiting for the rest.
    c.socket.write(header);
    c.socket.write(Buffer.alloc(1024 * 1024));
    await c.closed;
    expect(logged.join('\n')).toMatch(new RegExp(`before its hello: incoming frame of 104857600 bytes exceeds ${HELLO_MAX_BYTES}`));
    await toolGetsIn(port);
  });

  it('allows large frames once the hello is accepted', async () => {
    const port = await start();
    await toolGetsIn(port);
    let received: unknown;
    tools[0]!.setHandlers({ message: (m) => (received = m), close: () => {} });
    const c = sockets.at(-1)!;
    c.write(encodeFrame({ type: 'request', body: 'x'.repeat(64 * 1024) }));
    await until('the large frame', () => received !== undefined);
  });

  it('turns away connections beyond the limit of those waiting to say hello', async () => {
    const port = await start();
    const limit = pendingHelloLimit(SIZE);
    const silent = Array.from({ length: limit }, () => client(port));
    await until('every challenge', () => silent.every((c) => c.frames.length > 0));
    const extra = client(port);
    await extra.closed;
    expect(extra.frames).toEqual([]);
    expect(logged.filter((l) => /already waiting to say hello/.test(l))).toHaveLength(1);
    silent.slice(0, limit / 2 + 1).forEach((c) => c.socket.destroy());
    await until('the gate to open', () => logged.some((l) => /accepting out-of-band connections again \(1 refused\)/.test(l)));
    await toolGetsIn(port);
  });

  it('closes a connection that says nothing within the hello timeout', async () => {
    const port = await start(200);
    const c = client(port);
    await c.closed;
    expect(logged).toContain('closed an out-of-band connection that sent no hello within 200 ms');
  });
});
