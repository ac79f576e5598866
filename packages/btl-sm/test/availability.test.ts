import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const CLI = join(ROOT, 'packages/switchyard/bin/switchyard.js');

describe('sm without its addon', () => {
  it('is listed by switchyard info --param btl sm as unavailable, saying why and how to fix it', () => {
    const r = spawnSync(process.execPath, [CLI, 'info', '--param', 'btl', 'sm'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, SWITCHYARD_BTL_SM_ADDON: join(ROOT, 'no-such-addon.node') },
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/MCA btl: sm +\(@switchyard\/btl-sm v0\.1\.0, API \^1\.0\.0\) unavailable: the shared-memory addon is unavailable: .*no-such-addon/);
    expect(r.stdout).toContain('npm rebuild @switchyard/btl-sm');
  });

  it('is left out of a job that did not name it, which runs over tcp', () => {
    const r = spawnSync(process.execPath, [CLI, 'run', '-n', '2', 'ordering.mjs', '20'], {
      cwd: join(ROOT, 'test/fixtures'),
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, SWITCHYARD_BTL_SM_ADDON: join(ROOT, 'no-such-addon.node') },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('"inOrder":20');
  });
});
