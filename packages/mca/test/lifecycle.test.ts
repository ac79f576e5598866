import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HookScope, Mca, UnloadError, type McaComponent } from '../src/index.js';
import { componentPackage, isolated, tree } from './helpers.js';
import { AsyncSeriesHook, SyncHook } from 'tapable';

const FRAMEWORK = {
  name: 'demo',
  apiVersion: '1.0.0',
  description: 'test',
  finalizeModule: (m: { finalized: boolean }) => void (m.finalized = true),
};

/**
 * A component whose plugin taps the framework's `init` hook and records each firing in a global
 * log with the load generation that made the tap, so a stale tap from an earlier load shows up.
 */
const TAPPING = `
let generation = 0;
const log = (globalThis.__demoLog ??= []);
export default {
  open() { log.push('open'); },
  init() { return [{ finalized: false }]; },
  close() { log.push('close'); },
  apply(framework) {
    const mine = ++generation;
    framework.hooks.init.tapPromise('tapper', async (record) => { log.push('init-tap:' + mine + ':' + record.name); });
    framework.hooks.registered.tap('tapper', () => log.push('registered-tap:' + mine));
  },
};`;

async function setup(extra: Record<string, unknown> = {}) {
  const root = tree({
    'app/package.json': { name: 'app' },
    ...componentPackage('app/node_modules/mca-demo-tapper', { framework: 'demo', component: 'tapper', api: '^1' }, TAPPING),
    ...componentPackage(
      'app/node_modules/mca-demo-other',
      { framework: 'demo', component: 'other', api: '^1' },
      `export default { init: () => [{ finalized: false }] };`,
    ),
  });
  const mca = await Mca.load(isolated(join(root, 'app'), extra));
  const fw = mca.framework<McaComponent<{ finalized: boolean }, void>, { finalized: boolean }, void>(FRAMEWORK);
  await fw.register();
  return { mca, fw };
}

/** A framework 'demo' in an app whose packages hold these components (name: source), registered. */
async function demoApp(components: Record<string, string>, extra: Record<string, unknown>) {
  const packages = Object.entries(components).map(([component, source]) =>
    componentPackage(`app/node_modules/mca-demo-${component}`, { framework: 'demo', component, api: '^1' }, source),
  );
  const root = tree(Object.assign({ 'app/package.json': { name: 'app' } }, ...packages));
  const mca = await Mca.load(isolated(join(root, 'app'), extra));
  const fw = mca.framework<McaComponent<{ finalized: boolean }, void>, { finalized: boolean }, void>(FRAMEWORK);
  await fw.register();
  return fw;
}

describe('component lifecycle', () => {
  it('hot-unloads a component so none of its taps fire again, and reloads it', async () => {
    const log: string[] = ((globalThis as { __demoLog?: string[] }).__demoLog = []);
    const { fw } = await setup();
    await fw.load('tapper', undefined);
    const firstModules = fw.record('tapper')!.modules;
    expect(log).toEqual(['open', 'init-tap:1:tapper']);

    await fw.unload('tapper');
    expect(firstModules[0]!.finalized).toBe(true);
    expect(fw.record('tapper')).toMatchObject({ status: 'closed', modules: [] });
    log.length = 0;

    // Another component's load fires `init`: the unloaded component's tap must stay silent.
    await fw.load('other', undefined);
    expect(log).toEqual([]);

    await fw.load('tapper', undefined);
    expect(fw.record('tapper')).toMatchObject({ status: 'active', loads: 2 });
    expect(fw.record('tapper')!.modules).not.toBe(firstModules);
    // Only the second load's tap fires, once.
    expect(log).toEqual(['open', 'init-tap:2:tapper']);
    await fw.unloadAll();
    expect(fw.records().map((r) => r.status)).toEqual(['closed', 'closed']);
  });

  it('refuses to load a loaded component, or unload one that is not loaded', async () => {
    (globalThis as { __demoLog?: string[] }).__demoLog = [];
    const { fw } = await setup();
    await fw.load('other', undefined);
    await expect(fw.load('other', undefined)).rejects.toThrow(/'other' is already loaded/);
    await expect(fw.unload('tapper')).rejects.toThrow(/'tapper' is not loaded \(registered\)/);
    await expect(fw.load('nosuch', undefined)).rejects.toThrow(/no demo component named 'nosuch'. Available: /);
  });

  it('traces every lifecycle hook when mca_base_verbose is set', async () => {
    (globalThis as { __demoLog?: string[] }).__demoLog = [];
    const lines: string[] = [];
    const { fw } = await setup({ commandLine: [['mca_base_verbose', '1']], log: (l: string) => lines.push(l) });
    await fw.load('other', undefined);
    await fw.unload('other');
    expect(lines.slice(0, 2).sort()).toEqual(['[mca:demo] registered(demo/other)', '[mca:demo] registered(demo/tapper)']);
    expect(lines.slice(2)).toEqual([
      '[mca:demo] open(demo/other)',
      '[mca:demo] init(demo/other)',
      '[mca:demo] finalize(demo/other)',
      '[mca:demo] close(demo/other)',
    ]);
  });

  it('traces a component left out at start-up with why (one the selection does not name, whose init throws)', async () => {
    const lines: string[] = [];
    const fw = await demoApp(
      { boom: `export default { init() { throw new Error('boom: the device exploded'); } };` },
      { commandLine: [['mca_base_verbose', '1']], log: (l: string) => lines.push(l) },
    );
    expect(await fw.loadSelected(() => undefined)).toEqual([]);
    expect(lines).toContain('[mca:demo] skipped(demo/boom, failed: init failed: boom: the device exploded)');
  });

  it('gives up on a component whose init never ends (mca_base_component_timeout): left out with why, the others load', async () => {
    const fw = await demoApp(
      { hang: `export default { init: () => new Promise(() => {}) };`, other: `export default { init: () => [{ finalized: false }] };` },
      { commandLine: [['mca_base_component_timeout', '200']] },
    );
    expect((await fw.loadSelected(() => undefined)).map((r) => r.name)).toEqual(['other']);
    expect(fw.record('hang')).toMatchObject({
      status: 'failed',
      reason: 'init failed: init did not finish within 200 ms (mca_base_component_timeout)',
    });
  });

  it('unloads a component whose close throws or whose module finalize never ends, naming the step; the others unload too', async () => {
    const fw = await demoApp(
      {
        throws: `export default { init: () => [{}], close() { throw new Error('deliberate throw in close()'); } };`,
        other: `export default { init: () => [{ finalized: false }] };`,
      },
      { commandLine: [['mca_base_component_timeout', '200']] },
    );
    await fw.loadSelected(() => undefined);
    const error = await fw.unload('throws').then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(UnloadError);
    expect((error as Error).message).toBe(
      "unloading demo component 'throws' reported an error: close() of demo component 'throws' threw: Error: deliberate throw in close()",
    );
    expect(fw.record('throws')!.status).toBe('closed');
    // Unloaded: it can be loaded again.
    await fw.load('throws', undefined);
    expect(fw.record('throws')!.status).toBe('active');
    await expect(fw.unloadAll()).rejects.toThrow(/close\(\) of demo component 'throws' threw/);
    expect(fw.records().filter((r) => r.status === 'active')).toEqual([]);
  });

  it("bounds a module's finalize at unload by mca_base_component_timeout: unloaded all the same, with the error", async () => {
    const root = tree({
      'app/package.json': { name: 'app' },
      ...componentPackage(
        'app/node_modules/mca-demo-hangs',
        { framework: 'demo', component: 'hangs', api: '^1' },
        `export default { init: () => [{}] };`,
      ),
    });
    const mca = await Mca.load(isolated(join(root, 'app'), { commandLine: [['mca_base_component_timeout', '200']] }));
    const fw = mca.framework<McaComponent<object, void>, object, void>({ ...FRAMEWORK, finalizeModule: () => new Promise<void>(() => {}) });
    await fw.register();
    await fw.loadSelected(() => undefined);
    await expect(fw.unload('hangs')).rejects.toThrow(
      "unloading demo component 'hangs' reported an error: finalize() of a module of demo component 'hangs' did not finish within 200 ms " +
        '(mca_base_component_timeout)',
    );
    expect(fw.record('hangs')!.status).toBe('closed');
  });

  it('freezes the hooks: plugins tap, they cannot replace', async () => {
    const { fw } = await setup();
    expect(Object.isFrozen(fw.hooks)).toBe(true);
    expect(() => {
      (fw.hooks as Record<string, unknown>).init = null;
    }).toThrow(TypeError);
  });
});

describe('HookScope', () => {
  it('drops a disposed scope\'s taps and refuses new ones, with a typed error', async () => {
    const hook = new SyncHook<[string]>(['x']);
    const seen: string[] = [];
    const scope = new HookScope('plugin');
    const view = scope.view({ hook });
    view.hook.tap('p', (x: string) => void seen.push(`scoped:${x}`));
    hook.tap('outside', (x) => void seen.push(`outside:${x}`));
    hook.call('a');
    scope.dispose();
    hook.call('b');
    expect(seen).toEqual(['scoped:a', 'outside:a', 'outside:b']);
    expect(() => view.hook.tap('p', () => {})).toThrow(expect.objectContaining({ code: 'ERR_SWITCHYARD_MCA_SCOPE_DISPOSED' }));
  });

  it('reloads many times without leaving stale taps on the hooks', async () => {
    const sync = new SyncHook<[string]>(['x']);
    const series = new AsyncSeriesHook<[string]>(['x']);
    const seen: string[] = [];
    for (let load = 1; load <= 5; load++) {
      const scope = new HookScope('plugin');
      const view = scope.view({ sync, series });
      view.sync.tap('p', (x: string) => void seen.push(`sync${load}:${x}`));
      view.series.tapPromise('p', async (x: string) => void seen.push(`promise${load}:${x}`));
      view.series.tapAsync('p', (x: string, done: () => void) => {
        seen.push(`async${load}:${x}`);
        done();
      });
      sync.call('s');
      await series.promise('a');
      scope.dispose();
    }
    sync.call('after');
    await series.promise('after');
    expect(seen).toEqual([1, 2, 3, 4, 5].flatMap((n) => [`sync${n}:s`, `promise${n}:a`, `async${n}:a`]));
    // One dispatcher tap per hook, however many loads came and went.
    expect(sync.taps).toHaveLength(1);
    expect(series.taps).toHaveLength(1);
  });

  it('keeps stages: a scoped tap with a late stage runs after an outside tap', () => {
    const hook = new SyncHook<[]>([]);
    const seen: string[] = [];
    const view = new HookScope('plugin').view({ hook });
    view.hook.tap('early', () => void seen.push('early'));
    view.hook.tap({ name: 'late', stage: 10 }, () => void seen.push('late'));
    hook.tap('outside', () => void seen.push('outside'));
    hook.call();
    expect(seen).toEqual(['early', 'outside', 'late']);
  });

  it('refuses an async tap on a sync hook, with a typed error', () => {
    const view = new HookScope('plugin').view({ hook: new SyncHook<[]>([]) });
    view.hook.tap('first', () => {});
    expect(() => view.hook.tapPromise!('p', async () => {})).toThrow(expect.objectContaining({ code: 'ERR_SWITCHYARD_MCA_TAP_KIND' }));
  });
});
