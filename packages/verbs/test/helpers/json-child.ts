import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { waitFor } from './verbs-end.js';

const PACKAGE_DIR = join(import.meta.dirname, '..', '..');

/**
 * Fixtures import dist/ (as an application would): build it; incremental, fast when unchanged.
 * `dir`: the package whose fixtures run (default this one; btl-openib's tests give theirs).
 */
export function buildPackage(dir: string = PACKAGE_DIR): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const built = spawnSync(process.execPath, [tsc, '-b', dir], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`tsc -b failed:\n${built.stdout}${built.stderr}`);
}

/** A fixture process driven by JSON lines on stdin, answering in JSON lines on stdout. */
export interface JsonChild {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly messages: Array<Record<string, unknown>>;
  send(msg: object): void;
  /** The next message of this type after the last one `next` returned. */
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started = new Set<ChildProcess>();

/** `fixture`: a file of this package's test/fixtures, or an absolute path. */
export function startJsonChild(fixture: string, args: readonly string[] = []): JsonChild {
  const path = isAbsolute(fixture) ? fixture : join(import.meta.dirname, '..', 'fixtures', fixture);
  const child = spawn(process.execPath, [path, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  started.add(child);
  const messages: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => messages.push(JSON.parse(line) as Record<string, unknown>));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      started.delete(child);
      resolve({ code, signal });
    }),
  );
  let read = 0;
  return {
    child,
    pid: child.pid!,
    messages,
    exited,
    send: (msg) => child.stdin!.write(`${JSON.stringify(msg)}\n`),
    async next(type, timeoutMs = 10_000) {
      await waitFor(`the child's ${type}`, () => messages.slice(read).some((m) => m.type === type), timeoutMs);
      const index = messages.findIndex((m, i) => i >= read && m.type === type);
      read = index + 1;
      return messages[index]!;
    },
  };
}

/** For afterAll: kills what a failed test left running. */
export function killJsonChildren(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
