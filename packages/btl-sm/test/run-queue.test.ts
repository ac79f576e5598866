import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunQueue } from '../src/run-queue.js';

const folders: string[] = [];
afterEach(() => {
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});

/** A file shaped like /proc/loadavg saying `running` threads are runnable. */
function loadavg(running: number | string): string {
  const folder = mkdtempSync(join(tmpdir(), 'run-queue-'));
  folders.push(folder);
  const file = join(folder, 'loadavg');
  writeFileSync(file, `0.52 0.58 0.59 ${running}/312 4242\n`);
  return file;
}

describe('RunQueue', () => {
  it('is crowded when more threads are runnable than there are cores, and not otherwise', () => {
    const two = new RunQueue(2, loadavg(2));
    const three = new RunQueue(2, loadavg(3));
    expect(two.crowded(0)).toBe(false);
    expect(three.crowded(0)).toBe(true);
    two.close();
    three.close();
  });

  it('reads the count again only once its sample is 10 ms old', () => {
    const file = loadavg(1);
    const queue = new RunQueue(2, file);
    expect(queue.crowded(1000)).toBe(false);
    writeFileSync(file, '1.00 1.00 1.00 5/312 4242\n');
    expect(queue.crowded(1005)).toBe(false);
    expect(queue.crowded(1010)).toBe(true);
    queue.close();
  });

  it('says for how long every sample has found it crowded, from a fresh sample', () => {
    const file = loadavg(1);
    const queue = new RunQueue(2, file);
    expect(queue.crowdedFor(1000)).toBe(0);
    writeFileSync(file, '1.00 1.00 1.00 4/312 4242\n');
    expect(queue.crowdedFor(1001)).toBe(0);
    for (const t of [1011, 1021, 1031]) queue.crowded(t);
    expect(queue.crowdedFor(1041)).toBe(40);
    writeFileSync(file, '1.00 1.00 1.00 2/312 4242\n');
    expect(queue.crowdedFor(1042)).toBe(0);
    queue.close();
  });

  it('starts counting again after a gap of more than 20 ms between samples (nobody looked meanwhile)', () => {
    const file = loadavg(4);
    const queue = new RunQueue(2, file);
    expect(queue.crowdedFor(1000)).toBe(0);
    expect(queue.crowdedFor(1020)).toBe(20);
    // Idle for 30 ms: crowded before and after is not crowded throughout.
    expect(queue.crowdedFor(1050)).toBe(0);
    expect(queue.crowdedFor(1065)).toBe(15);
    queue.close();
  });

  it('counts as crowded (yield on every look) when the count cannot be read', () => {
    const missing = new RunQueue(64, join(tmpdir(), 'no-such-folder-run-queue', 'loadavg'));
    const garbled = new RunQueue(64, loadavg('many'));
    expect(missing.crowded(0)).toBe(true);
    expect(missing.crowdedFor(0)).toBe(Infinity);
    expect(garbled.crowded(0)).toBe(true);
    garbled.close();
  });

  it('reads this machine’s /proc/loadavg', () => {
    // The reading thread itself is runnable: with no cores at all, that is already too many.
    const queue = new RunQueue(0);
    expect(queue.crowded(0)).toBe(true);
    const roomy = new RunQueue(100_000);
    expect(roomy.crowded(0)).toBe(false);
    queue.close();
    roomy.close();
  });
});
