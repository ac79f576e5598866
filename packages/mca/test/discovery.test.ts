import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverComponents, Mca, McaSelectionError, type McaComponent } from '../src/index.js';
import { componentPackage, isolated, tree } from './helpers.js';

const FRAMEWORK = { name: 'demo', apiVersion: '1.4.0', description: 'test framework' };

const WORKING = `
export default {
  register(ctx) { ctx.param({ name: 'depth', type: 'integer', default: 3, help: 'how deep' }); },
  open() {},
  init(ctx) { return [{ id: ctx.id }]; },
};`;

async function setup(
  files: Record<string, string | object>,
  extra: Record<string, unknown> | ((root: string) => Record<string, unknown>) = {},
) {
  const root = tree({ 'app/package.json': { name: 'app' }, ...files });
  const mca = await Mca.load(isolated(join(root, 'app'), typeof extra === 'function' ? extra(root) : extra));
  const fw = mca.framework<McaComponent<{ id: number }, { id: number }>, { id: number }, { id: number }>(FRAMEWORK);
  await fw.register();
  return { root, mca, fw };
}

describe('component discovery', () => {
  it("finds component packages in the project's own node_modules, scoped ones included, without importing them", async () => {
    const { fw, root, mca } = await setup({
      ...componentPackage('app/node_modules/mca-demo-alpha', { framework: 'demo', component: 'alpha', api: '^1.0.0' }, WORKING),
      ...componentPackage('app/node_modules/@acme/demo-beta', { framework: 'demo', component: 'beta', api: '>=1.2 <2' }, WORKING),
      ...componentPackage('app/node_modules/other-fw', { framework: 'other', component: 'gamma', api: '^1' }, WORKING),
      'app/node_modules/plain/package.json': { name: 'plain', version: '1.0.0' },
    });
    const byName = Object.fromEntries(fw.declare().map((r) => [r.name, r]));
    expect(Object.keys(byName).sort()).toEqual(['alpha', 'beta']);
    expect(byName.alpha!.found).toMatchObject({ packageName: 'mca-demo-alpha', version: '1.2.3', foundIn: join(root, 'app/node_modules') });
    expect(byName.beta!.found.packageName).toBe('@acme/demo-beta');
    // Every component is selected by default: register imported both, and each declared its parameter.
    expect(byName.beta!.status).toBe('registered');
    expect(mca.params.info('demo_alpha_depth')).toMatchObject({ value: 3, spec: { owner: { framework: 'demo', component: 'alpha' } } });
    expect(mca.discover().projectRoots).toEqual([join(root, 'app')]);
  });

  it('does not look in the node_modules of folders above the project, unless the project declares the package', async () => {
    const planted = componentPackage('node_modules/mca-demo-planted', { framework: 'demo', component: 'planted', api: '^1' }, WORKING);
    const { fw } = await setup(planted);
    expect(fw.record('planted')).toBeUndefined();
    const declared = await setup({ ...planted, 'app/package.json': { name: 'app', dependencies: { 'mca-demo-planted': '^1' } } });
    expect(declared.fw.record('planted')!.found).toMatchObject({ via: 'dependency', foundIn: join(declared.root, 'node_modules') });
  });

  it('without a package.json or a version-control root, the project is the working folder alone', async () => {
    const planted = componentPackage('node_modules/mca-demo-planted', { framework: 'demo', component: 'planted', api: '^1' }, WORKING);
    const root = tree({ ...planted, 'sub/.keep': '' });
    const mca = await Mca.load(isolated(join(root, 'sub')));
    expect(mca.discover().projectRoots).toEqual([join(root, 'sub')]);
    expect(mca.discover().found.map((c) => c.packageName)).not.toContain('mca-demo-planted');
  });

  it('imports only the components the selection keeps; another one is imported when it is loaded', async () => {
    const marking = (name: string) => `globalThis.__imported = [...(globalThis.__imported ?? []), '${name}'];\n${WORKING}`;
    const g = globalThis as { __imported?: string[] };
    g.__imported = [];
    const { fw, mca } = await setup(
      {
        ...componentPackage('app/node_modules/mca-demo-kept', { framework: 'demo', component: 'kept', api: '^1' }, marking('kept')),
        ...componentPackage('app/node_modules/mca-demo-left', { framework: 'demo', component: 'left', api: '^1' }, marking('left')),
      },
      { commandLine: [['demo', 'kept'], ['demo_left_depth', '9']] },
    );
    expect((await fw.loadSelected(() => ({ id: 1 }))).map((r) => r.name)).toEqual(['kept']);
    expect(g.__imported).toEqual(['kept']);
    expect(fw.record('left')).toMatchObject({ status: 'excluded', imported: false });
    // A setting for a component not imported is not reported as unknown: its parameters are not declared yet.
    expect(mca.checkParams()).toEqual([]);
    await fw.load('left', { id: 2 });
    expect(g.__imported).toEqual(['kept', 'left']);
    expect(mca.params.get('demo_left_depth')).toBe(9);
  });

  it('searches mca_component_path first; a later find of the same component is shadowed', async () => {
    const { fw, root, mca } = await setup(
      {
        ...componentPackage('extra/alpha-local', { framework: 'demo', component: 'alpha', api: '^1.0.0' }, WORKING),
        ...componentPackage('single/mca-demo-solo', { framework: 'demo', component: 'solo', api: '^1.0.0' }, WORKING),
        ...componentPackage('app/node_modules/mca-demo-alpha', { framework: 'demo', component: 'alpha', api: '^1.0.0' }, WORKING),
      },
      (root) => ({ commandLine: [['mca_component_path', `${join(root, 'extra')}:${join(root, 'single/mca-demo-solo')}`]] }),
    );
    expect(fw.record('alpha')!.found).toMatchObject({ packageName: 'alpha-local', via: 'component-path', foundIn: join(root, 'extra') });
    expect(fw.record('solo')!.found.via).toBe('component-path');
    expect(mca.discover().shadowed.map((c) => c.packageName)).toContain('mca-demo-alpha');
  });

  it("takes a relative mca_component_path from a file as that file's folder, wherever the command runs", async () => {
    const root = tree({
      'app/package.json': { name: 'app' },
      'app/.switchyardrc.json': '{ "mca_component_path": "plugins" }',
      'app/sub/.keep': '',
      ...componentPackage('app/plugins/mca-demo-named', { framework: 'demo', component: 'named', api: '^1' }, WORKING),
      ...componentPackage('app/sub/plugins/mca-demo-elsewhere', { framework: 'demo', component: 'elsewhere', api: '^1' }, WORKING),
    });
    const mca = await Mca.load(isolated(join(root, 'app/sub'), { searchFrom: [join(root, 'app/sub')] }));
    const onPath = (m: Mca) =>
      m
        .discover()
        .found.filter((c) => c.via === 'component-path')
        .map((c) => c.manifest.component);
    expect(onPath(mca)).toEqual(['named']);
    // From the command line, relative is to where the command runs, as a shell user expects.
    const fromCli = await Mca.load(isolated(join(root, 'app'), { commandLine: [['mca_component_path', 'sub/plugins']] }));
    expect(onPath(fromCli)).toEqual(['elsewhere']);
  });

  it('reports a package whose declaration is incomplete', async () => {
    const { mca } = await setup({
      'app/node_modules/mca-demo-half/package.json': { name: 'mca-demo-half', mca: { framework: 'demo' } },
    });
    expect(mca.discover().problems).toEqual([
      expect.objectContaining({ packageName: 'mca-demo-half', reason: expect.stringMatching(/"mca.component" is missing/) }),
    ]);
  });

  it('skips a component whose API range does not admit the framework version, saying why', async () => {
    const { fw } = await setup({
      ...componentPackage('app/node_modules/mca-demo-old', { framework: 'demo', component: 'old', api: '^2.0.0' }, WORKING),
      ...componentPackage('app/node_modules/mca-demo-bad', { framework: 'demo', component: 'bad', api: 'not a range' }, WORKING),
    });
    expect(fw.record('old')).toMatchObject({ status: 'skipped', reason: 'supports demo API ^2.0.0, but this framework is API 1.4.0' });
    expect(fw.record('bad')).toMatchObject({ status: 'skipped', reason: "declares API range 'not a range', which is not a semver range" });
  });

  it('keeps going when a component throws on import or on open', async () => {
    const { fw } = await setup({
      ...componentPackage(
        'app/node_modules/mca-demo-boom',
        { framework: 'demo', component: 'boom', api: '^1' },
        `throw new Error('kaboom at import');`,
      ),
      ...componentPackage(
        'app/node_modules/mca-demo-shy',
        { framework: 'demo', component: 'shy', api: '^1' },
        `export default { open() { throw new Error('no device'); } };`,
      ),
      ...componentPackage(
        'app/node_modules/mca-demo-none',
        { framework: 'demo', component: 'none', api: '^1' },
        `export default { open() { return { available: false, reason: 'no RDMA device found' }; } };`,
      ),
      ...componentPackage(
        'app/node_modules/mca-demo-typo',
        { framework: 'demo', component: 'typo', api: '^1' },
        `export default {\n  open( {\n};\n`,
      ),
      ...componentPackage('app/node_modules/mca-demo-ok', { framework: 'demo', component: 'ok', api: '^1' }, WORKING),
    });
    expect(fw.record('boom')!.status).toBe('failed');
    expect(fw.record('boom')!.reason).toMatch(/cannot import .*index\.js: kaboom at import/);
    // A syntax error is named with its file and line, which V8 leaves out of the message.
    expect(fw.record('typo')!.reason).toMatch(/cannot import .*index\.js: Unexpected token .* \(at .*mca-demo-typo\/index\.js:3\)$/);
    const loaded = await fw.loadSelected(() => ({ id: 7 }));
    expect(loaded.map((r) => r.name)).toEqual(['ok']);
    expect(fw.record('ok')!.modules).toEqual([{ id: 7 }]);
    expect(fw.record('shy')).toMatchObject({ status: 'failed', reason: 'open failed: no device' });
    expect(fw.record('none')).toMatchObject({ status: 'unavailable', reason: 'no RDMA device found' });
  });

  it('refuses to start when an included component is missing or cannot load, listing what is available', async () => {
    const files = {
      ...componentPackage(
        'app/node_modules/mca-demo-boom',
        { framework: 'demo', component: 'boom', api: '^1' },
        `throw new Error('kaboom');`,
      ),
      ...componentPackage('app/node_modules/mca-demo-ok', { framework: 'demo', component: 'ok', api: '^1' }, WORKING),
    };
    const missing = await setup(files, { commandLine: [['demo', 'ok,nosuch']] });
    await expect(missing.fw.loadSelected(() => ({ id: 1 }))).rejects.toThrow(
      new McaSelectionError(
        "demo component 'nosuch' was requested (demo=ok,nosuch) but was not found. Available demo components: boom, ok",
      ),
    );
    const broken = await setup(files, { commandLine: [['demo', 'boom']] });
    await expect(broken.fw.loadSelected(() => ({ id: 1 }))).rejects.toThrow(/'boom' was requested \(demo=boom\) but cannot be used: cannot import .*kaboom/);
    const excluded = await setup(files, { commandLine: [['demo', '^boom']] });
    expect((await excluded.fw.loadSelected(() => ({ id: 1 }))).map((r) => r.name)).toEqual(['ok']);
    // A package whose declaration names it wrongly: "not found" says why it is not a component.
    const fancy = componentPackage('app/node_modules/mca-demo-fancy', { framework: 'demo', component: 'Fancy-One', api: '^1' }, WORKING);
    const misnamed = await setup({ ...files, ...fancy }, { commandLine: [['demo', 'fancy-one']] });
    await expect(misnamed.fw.loadSelected(() => ({ id: 1 }))).rejects.toThrow(
      /'fancy-one' was requested \(demo=fancy-one\) but was not found \(mca-demo-fancy is not a component: component name 'Fancy-One' must be/,
    );
  });

  it('refuses a selection that mixes include and exclude, naming the parameter and source', async () => {
    const { mca } = await setup({}, { commandLine: [['demo', 'ok,^boom']] });
    expect(() => mca.checkParams()).toThrow(/MCA parameter 'demo' \(type list\) from command line: 'ok,\^boom' mixes include and exclude/);
  });
});

describe("switchyard's own components", () => {
  it('are those beside its own package by real path too (a file: install or the repository links them into the project)', async () => {
    const { symlinkSync, mkdirSync } = await import('node:fs');
    const root = tree({
      'inst/mca/package.json': { name: '@switchyard/mca' },
      'inst/mca/dist/.keep': '',
      ...componentPackage('inst/btl-own', { framework: 'demo', component: 'own', api: '^1' }, WORKING),
      'inst/btl-own/package.json': {
        name: '@switchyard/btl-own',
        type: 'module',
        main: 'index.js',
        mca: { framework: 'demo', component: 'own', api: '^1' },
      },
      'app/package.json': { name: 'app' },
      ...componentPackage('app/node_modules/mca-demo-theirs', { framework: 'demo', component: 'theirs', api: '^1' }, WORKING),
    });
    mkdirSync(join(root, 'app/node_modules/@switchyard'), { recursive: true });
    symlinkSync(join(root, 'inst/btl-own'), join(root, 'app/node_modules/@switchyard/btl-own'));
    const found = discoverComponents({ from: [join(root, 'app')], installation: join(root, 'inst/mca/dist') }).found;
    const firstParty = Object.fromEntries(found.map((f) => [f.manifest.component, f.firstParty]));
    expect(firstParty).toEqual({ own: true, theirs: false });
  });

  it("keep their names against a project's package of the same name, which only the component path may replace", () => {
    const manifest = { framework: 'demo', component: 'own', api: '^1' };
    const root = tree({
      'app/package.json': { name: 'app', dependencies: { 'mca-demo-imposter': '1' } },
      'app/node_modules/@switchyard/mca/package.json': { name: '@switchyard/mca' },
      'app/node_modules/@switchyard/mca/dist/.keep': '',
      ...componentPackage('app/node_modules/@switchyard/btl-own', manifest, WORKING),
      ...componentPackage('app/node_modules/mca-demo-imposter', manifest, WORKING),
      ...componentPackage('patched/btl-own', manifest, WORKING),
    });
    const installation = join(root, 'app/node_modules/@switchyard/mca/dist');
    const used = discoverComponents({ from: [join(root, 'app')], installation });
    expect(used.found.map((c) => c.packageName)).toEqual(['@switchyard/btl-own']);
    expect(used.shadowed).toEqual([
      expect.objectContaining({ packageName: 'mca-demo-imposter', usedInstead: join(root, 'app/node_modules/@switchyard/btl-own') }),
    ]);
    const patched = discoverComponents({ from: [join(root, 'app')], installation, componentPath: [join(root, 'patched')] });
    expect(patched.found.map((c) => c.packageName)).toEqual(['btl-own']);
  });

  it('are not whatever sits in the @switchyard folder: an npm alias puts any package there', () => {
    const manifest = (component: string) => ({ framework: 'demo', component, api: '^1' });
    const root = tree({
      'app/package.json': { name: 'app', dependencies: { '@switchyard/btl-alias': 'npm:evil@1' } },
      'app/node_modules/@switchyard/mca/package.json': { name: '@switchyard/mca' },
      'app/node_modules/@switchyard/mca/dist/.keep': '',
      ...componentPackage('app/node_modules/@switchyard/btl-own', manifest('own'), WORKING),
      ...componentPackage('app/node_modules/@switchyard/btl-alias', manifest('alias'), WORKING),
      'app/node_modules/@switchyard/btl-alias/package.json': { name: 'evil', type: 'module', main: 'index.js', mca: manifest('alias') },
    });
    const installation = join(root, 'app/node_modules/@switchyard/mca/dist');
    const found = discoverComponents({ from: [join(root, 'app')], installation }).found;
    const firstParty = Object.fromEntries(found.map((f) => [f.manifest.component, f.firstParty]));
    expect(firstParty).toEqual({ own: true, alias: false });
  });
});
