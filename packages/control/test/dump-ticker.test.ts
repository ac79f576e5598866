import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dumpTicker } from '../src/ctl/dump-ticker.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('checkpoint save while CRIU dumps', () => {
  it('says, until stopped, how long the dump has run and how much of the images it wrote', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sy-ticker-'));
    const lines: string[] = [];
    const stop = dumpTicker(dir, (line) => lines.push(line), 20);
    writeFileSync(join(dir, 'pages-1.img'), Buffer.alloc(3_000_000));
    await new Promise((r) => setTimeout(r, 120));
    stop();
    const said = lines.length;
    expect(said).toBeGreaterThan(0);
    expect(lines.at(-1)).toMatch(/^dumping: \d+ s, 3 MB of images written so far$/);
    await new Promise((r) => setTimeout(r, 80));
    expect(lines.length).toBe(said);
  });
});
