import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ctl, switchyardRun } from './helpers/ctl.js';

// A job whose ranks have not all called init() yet (one reads or computes before it): its ranks
// cannot answer `ctl status` (their control agents start once init() is done), and the status
// said only "did not answer within 5000 ms" for every rank, as for a hung one. It says why now.
describe('ctl status while a rank has not called init() yet', () => {
  it('says which rank has not called init(), and that the others wait for it in the wire-up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-status-init-'));
    const launcher = switchyardRun(['-n', '3', '--mca', 'btl', 'tcp,self'])(['init-after-go.mjs', dir]);
    let stderr = '';
    launcher.stderr!.on('data', (d) => (stderr += d));
    const ended = new Promise<number | null>((resolve) => launcher.on('close', resolve));
    try {
      const deadline = Date.now() + 30_000;
      while (!existsSync(join(dir, 'started')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const [record] = (await ctl(['jobs', '--json'])).json.filter((j: { pid: number }) => j.pid === launcher.pid);
      expect(record, stderr).toBeDefined();
      // Ranks 0 and 2 may still be on their way into the exchange: ask until both are in it.
      let ranks: Array<{ rank: number; error?: string }> = [];
      for (let attempt = 0; attempt < 5; attempt++) {
        const status = await ctl(['--job', record.jobId, 'status', '--json']);
        ranks = status.json.ranks;
        if ([0, 2].every((r) => /waits in init\(\)/.test(ranks[r]!.error ?? ''))) break;
      }
      expect(ranks[1]!.error).toMatch(/has not called init\(\) yet/);
      for (const r of [0, 2]) expect(ranks[r]!.error).toMatch(/it waits in init\(\), in the wire-up's exchange for rank 1 \(not in init\(\) yet\)/);
      writeFileSync(join(dir, 'go'), '');
      expect(await ended, stderr).toBe(0);
    } finally {
      try {
        process.kill(-launcher.pid!, 'SIGKILL');
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
