import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const HERE = dirname(fileURLToPath(import.meta.url));
const NODE_MODULES = resolve(HERE, '../../../node_modules');
let folder: string | undefined;

afterEach(() => {
  if (folder) rmSync(folder, { recursive: true, force: true });
  folder = undefined;
});

/** The pids of processes whose command line contains `text`. */
function processesWith(text: string): number[] {
  const out = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .filter((line) => line.includes(text) && !line.includes('ps -eo'))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (what()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return what();
}

describe('a kit run that is killed (Ctrl-C on the test runner)', () => {
  it('leaves no job running (it ends by its own time limit), and the next kit removes its folders', async () => {
    // A sound BTL in a folder of its own, so its job is found by that folder's name.
    folder = mkdtempSync(join(tmpdir(), 'sy-kit-interrupted-'));
    const btl = join(folder, 'btl');
    cpSync(join(HERE, 'fixtures', 'sound'), btl, { recursive: true });
    symlinkSync(NODE_MODULES, join(btl, 'node_modules'));
    const runner = `
      import { describeConformance } from '@switchyard/btl-conformance';
      const tests = [];
      describeConformance({ packageDir: ${JSON.stringify(btl)}, only: ['drain'], waitMs: 2000, timeoutMs: 12000,
        describe: (_n, body) => body(), it: (_n, body) => tests.push(body) });
      for (const body of tests) await body().catch(() => {});
    `;
    // Its temporary folders (the kit's and the job's) in ours: a killed kit cannot remove them.
    const env = { ...process.env, TMPDIR: folder };
    const kit = spawn(process.execPath, ['--input-type=module', '-e', runner], { cwd: btl, env, stdio: 'ignore' });
    try {
      // The kit's control job: its launcher names the folder; its ranks are the launcher's children.
      expect(await until(() => processesWith(btl).some((pid) => pid !== kit.pid), 30_000)).toBe(true);
      const launcher = processesWith(btl).find((pid) => pid !== kit.pid)!;
      const ranks = spawnSync('pgrep', ['-P', String(launcher)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
      kit.kill('SIGKILL');
      // The kit's limit for the job is 10 s; the job's own is 30 s past it.
      const job = [launcher, ...ranks];
      expect(await until(() => !job.some(alive), 60_000), `left running: ${job.filter(alive).join(', ')}`).toBe(true);
      // Its folders stay (named with its pid) until the next kit process makes one of its own.
      const mine = new RegExp(`^sy-kit-(ctl|job)-${kit.pid}-`);
      const left = () => readdirSync(folder!).filter((name) => mine.test(name));
      expect(left().length).toBe(2);
      const next = `import { scratchDir } from ${JSON.stringify(join(HERE, '../dist/runner/launch.js'))}; scratchDir();`;
      expect(spawnSync(process.execPath, ['--input-type=module', '-e', next], { env, encoding: 'utf8' }).status).toBe(0);
      expect(left()).toEqual([]);
    } finally {
      kit.kill('SIGKILL');
      for (const pid of processesWith(btl)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone.
        }
      }
    }
  }, 120_000);
});
