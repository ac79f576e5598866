import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERR_BTL_OPENIB_UNAVAILABLE, loadNative, nativeAvailable, NativeUnavailableError } from '../src/native/load.js';
import { createNativeProvider } from '../src/native/provider.js';
import { VerbsError } from '../src/errors.js';

const hasDevices = existsSync('/sys/class/infiniband');

describe('the native addon loader', () => {
  it('reports a missing binary as unavailable, with the cause and what to do', () => {
    const path = join(import.meta.dirname, 'no-such-dir', 'switchyard_verbs.node');
    expect(nativeAvailable({ path })).toBe(false);
    let error: unknown;
    try {
      loadNative({ path });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(NativeUnavailableError);
    const e = error as NativeUnavailableError;
    expect(e.code).toBe(ERR_BTL_OPENIB_UNAVAILABLE);
    expect(e.message).toContain('libibverbs-dev');
    expect(e.message).toContain('npm install-scripts approve @switchyard/verbs');
    expect(e.message).toContain('Cannot find module');
    expect((e.cause as Error).message).toContain('no-such-dir');
  });

  it('reports a directory without any build as unavailable (node-gyp-build finds nothing)', () => {
    const path = join(import.meta.dirname, 'fixtures');
    expect(() => loadNative({ path })).toThrow(/No native build was found/);
  });
});

// CI installs libibverbs-dev, so the addon is built there; elsewhere this block is skipped.
describe.skipIf(!nativeAvailable())('the native provider over libibverbs', () => {
  it.skipIf(hasDevices)('lists no devices on a machine without an RDMA device', () => {
    expect(createNativeProvider().listDevices()).toEqual([]);
  });

  it('fails to open a device that does not exist with a VerbsError naming the call', () => {
    const provider = createNativeProvider();
    let error: unknown;
    try {
      provider.open('no_such_hca0');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(VerbsError);
    const e = error as VerbsError;
    expect(e.call).toBe('ibv_open_device');
    expect(e.code).toBe('ENODEV');
    expect(e.errnoText).toBe('No such device');
    expect(e.message).toMatch(/^ibv_open_device failed: No such device \(errno 19 ENODEV\): no RDMA device named 'no_such_hca0'/);
  });

  it('answers a stale or unknown handle with a VerbsError, not a crash', () => {
    expect(() => loadNative().allocPd(123_456)).toThrow(VerbsError);
  });
});
