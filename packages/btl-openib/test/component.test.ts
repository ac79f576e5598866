import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { component } from '../src/btl/component.js';
import { ADDON_PATH_ENV, nativeAvailable } from '@switchyard/verbs';
import { openibParams } from './helpers/btl-job.js';

const open = (overrides: Record<string, unknown>) =>
  component.open!({ framework: 'btl', component: 'openib', params: openibParams(overrides), log: () => {} });

const saved = process.env[ADDON_PATH_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[ADDON_PATH_ENV];
  else process.env[ADDON_PATH_ENV] = saved;
});

describe('the openib component', () => {
  it('is the btl framework component "openib", and not checkpointable', () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'));
    expect(pkg.mca).toEqual({ framework: 'btl', component: 'openib', api: '^1.0.0' });
    expect(component.checkpointable).toBe(false);
  });

  it('is available with the soft provider, which needs no hardware', async () => {
    expect(await open({ provider: 'soft' })).toEqual({
      available: true,
      details: ['provider: soft (software verbs, this host only)', 'active ports: soft0:1'],
    });
  });

  it.each(['auto', 'native'])('with provider=%s and no native addon, declines with the loader\'s cause', async (provider) => {
    process.env[ADDON_PATH_ENV] = join(import.meta.dirname, 'missing', 'switchyard_verbs.node');
    const result = await open({ provider });
    expect(result).toMatchObject({ available: false });
    const reason = (result as { reason: string }).reason;
    expect(reason).toContain('native verbs addon is unavailable');
    expect(reason).toContain('Cannot find module');
    expect(reason).toContain('libibverbs-dev');
  });

  it.skipIf(!nativeAvailable())('with libibverbs but no RDMA device, declines with "no RDMA device found" (auto and native)', async () => {
    for (const provider of ['auto', 'native']) {
      const result = await open({ provider });
      // On a machine with a device this test is meaningless: it would be available.
      if (result && 'available' in result && result.available) continue;
      expect(result).toEqual({ available: false, reason: 'no RDMA device found' });
    }
  });

  it('refuses an eager limit above max_send_size', async () => {
    await expect(async () => open({ provider: 'soft', eager_limit: 128 * 1024 })).rejects.toThrow(/btl_openib_eager_limit/);
  });
});
