import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { component } from '../src/btl/component.js';
import { NO_DEVICE } from '../src/btl/select.js';
import { ADDON_PATH_ENV, nativeAvailable } from '@switchyard/verbs';
import { openibParams } from './helpers/btl-job.js';
import { ParamRegistry, ParamStore, type ComponentParams } from '@switchyard/mca';

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
      expect(result).toEqual({ available: false, reason: NO_DEVICE });
    }
  });

  /** The component's parameters behind a real registry, with `settings` given on the command line. */
  function registered(settings: Record<string, unknown>): { params: ComponentParams; registry: ParamRegistry } {
    const store = new ParamStore();
    for (const [name, raw] of Object.entries(settings)) store.add({ name: `btl_openib_${name}`, raw, source: 'command-line' });
    const registry = new ParamRegistry(store);
    const owner = { framework: 'btl', component: 'openib' };
    component.register!({ ...owner, param: (spec) => registry.register({ ...spec, name: `btl_openib_${spec.name}`, owner }) });
    const prefix = 'btl_openib_';
    const params: ComponentParams = {
      get: <T>(name: string) => registry.get<T>(prefix + name),
      fullName: (name) => prefix + name,
      deviceDefault: (name, raw, origin) => registry.setDeviceDefault(prefix + name, raw, origin),
    };
    return { params, registry };
  }

  it("opens on the soft device with that device's eager limit (64 KiB of payload), shown as the value's source", async () => {
    const { params, registry } = registered({ provider: 'soft' });
    expect(registry.info('btl_openib_eager_limit')).toMatchObject({ value: 12 * 1024, source: 'default' });
    await component.open!({ framework: 'btl', component: 'openib', params, log: () => {} });
    const soft = { value: 64 * 1024 + 64, source: 'device', file: 'btl-openib device params: soft' };
    expect(registry.info('btl_openib_eager_limit')).toMatchObject(soft);
    expect(registry.info('btl_openib_max_send_size')).toMatchObject(soft);
    // A runtime value dropped again falls back to the device's, not the declared default.
    registry.setRuntime('btl_openib_eager_limit', '8k', { beforeOpen: true });
    registry.clearRuntime('btl_openib_eager_limit');
    expect(registry.info('btl_openib_eager_limit')).toMatchObject({ value: 64 * 1024 + 64, source: 'device' });
  });

  it("keeps an eager limit the user set over the soft device's, and never exceeds a max_send_size the user lowered", async () => {
    const set = registered({ provider: 'soft', eager_limit: '16k' });
    await component.open!({ framework: 'btl', component: 'openib', params: set.params, log: () => {} });
    expect(set.registry.info('btl_openib_eager_limit')).toMatchObject({ value: 16 * 1024, source: 'command-line' });
    const lowered = registered({ provider: 'soft', max_send_size: '32k' });
    await component.open!({ framework: 'btl', component: 'openib', params: lowered.params, log: () => {} });
    expect(lowered.registry.info('btl_openib_eager_limit')).toMatchObject({ value: 32 * 1024, source: 'device' });
  });

  it('refuses an eager limit above max_send_size', async () => {
    await expect(async () => open({ provider: 'soft', eager_limit: 128 * 1024 })).rejects.toThrow(/btl_openib_eager_limit/);
  });
});
