import { describe, expect, it } from 'vitest';
import type { ComponentParamSpec, RegisterContext } from '@switchyard/btl-interface';
import {
  addonLoader,
  checkBaseSettings,
  encodeFrame,
  Fifo,
  FrameDecoder,
  FrameError,
  readBaseSettings,
  registerBaseParams,
  type FrameFormat,
} from '../src/index.js';

function declared(register: (ctx: RegisterContext) => void): Map<string, ComponentParamSpec> {
  const specs = new Map<string, ComponentParamSpec>();
  register({ framework: 'btl', component: 'x', param: (spec) => (specs.set(spec.name, spec), undefined as never) });
  return specs;
}

const params = (values: Record<string, unknown>) => ({ get: <T>(n: string) => values[n] as T, fullName: (n: string) => `btl_x_${n}` });

describe('the common parameters', () => {
  it('declares the five with the component defaults, exclusivity runtime-settable, and reads them back', () => {
    const specs = declared((ctx) =>
      registerBaseParams(ctx, {
        exclusivity: 7,
        latency: 3,
        bandwidth: 9,
        eagerLimit: 100,
        maxSendSize: 200,
        maxSendSizeRange: { min: 64 },
        help: { latency: 'mine' },
      }),
    );
    expect([...specs.keys()]).toEqual(['exclusivity', 'latency', 'bandwidth', 'eager_limit', 'max_send_size']);
    expect(specs.get('exclusivity')).toMatchObject({ default: 7, runtimeSettable: true });
    expect(specs.get('latency')?.help).toBe('mine');
    expect(specs.get('max_send_size')).toMatchObject({ default: 200, min: 64 });
    const p = params({ exclusivity: 7, latency: 3, bandwidth: 9, eager_limit: 300, max_send_size: 200 });
    const s = readBaseSettings(p);
    expect(s).toEqual({ exclusivity: 7, latency: 3, bandwidth: 9, eagerLimit: 300, maxSendSize: 200 });
    expect(checkBaseSettings(s, p)).toBe('btl_x_eager_limit (300) must not exceed btl_x_max_send_size (200)');
  });
});

describe('Fifo', () => {
  it('keeps order across growth, and clears', () => {
    const q = new Fifo<number>();
    for (let i = 0; i < 40; i++) q.push(i);
    expect(q.shift()).toBe(0);
    expect([...q]).toHaveLength(39);
    expect(q.drain()).toEqual(Array.from({ length: 39 }, (_, i) => i + 1));
    q.push(1);
    q.clear();
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
  });
});

describe('the length-prefixed frame', () => {
  const format: FrameFormat = {
    magic: 0x5858,
    peer: 'test',
    controlLimit: 16,
    check: (type, length, limit) => (type !== 1 ? `unknown frame type ${type}` : length > limit ? `too big: ${length}` : undefined),
  };

  it('round-trips frames split anywhere, and refuses a stray stream with a typed error', () => {
    const got: string[] = [];
    const d = new FrameDecoder(format, (type, tag, payload) => got.push(`${type}/${tag}/${payload.toString()}`), 100);
    const bytes = Buffer.concat([encodeFrame(format, 1, 7, [Buffer.from('ab'), Buffer.from('c')]), encodeFrame(format, 1, 8, [])]);
    for (const b of bytes) d.push(Buffer.from([b]));
    expect(got).toEqual(['1/7/abc', '1/8/']);
    const bad = new FrameDecoder(format, () => {}, 100);
    expect(() => bad.push(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(FrameError);
    expect(() => new FrameDecoder(format, () => {}, 2).push(encodeFrame(format, 1, 0, [Buffer.from('abc')]))).toThrow(/too big: 3/);
  });
});

describe('addonLoader', () => {
  it("reports the package's own error, with the reason, and tries a location once", () => {
    let tries = 0;
    const loader = addonLoader<{ abiVersion: number }>({
      packageRoot: '/nonexistent/package',
      pathEnv: 'SWITCHYARD_TEST_NO_SUCH_ADDON',
      abiVersion: 1,
      unavailable: (reason) => (tries++, Object.assign(new Error(`unavailable: ${reason}`), { code: 'ERR_TEST' })),
    });
    expect(loader.available()).toBe(false);
    expect(() => loader.load()).toThrow(expect.objectContaining({ code: 'ERR_TEST' }));
    expect(tries).toBe(1);
  });
});
