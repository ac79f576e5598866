import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './capture.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const VITEST = join(ROOT, 'node_modules/vitest/vitest.mjs');

const work = mkdtempSync(join(tmpdir(), 'sy-new-btl-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Generates a package with the CLI, then gives it this workspace's node_modules (where an
 * author's `npm install` would put @switchyard/btl-interface, the kit, typescript and vitest).
 */
async function generate(name: string, extra: string[] = []) {
  const out = await cli(['new', 'btl', name, ...extra], { cwd: work });
  const dir = join(work, extra[0] && !extra[0].startsWith('-') ? extra[0] : `switchyard-btl-${name}`);
  return { ...out, dir };
}

function run(command: string, args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [command, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, CI: 'true' },
  });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('switchyard new btl', () => {
  it('creates a package with the component declaration, skeleton, README and conformance test', async () => {
    const { code, stdout, dir } = await generate('wire');
    expect(code).toBe(0);
    expect(stdout).toContain(`Created switchyard-btl-wire (btl component 'wire') in ${dir}`);
    // Run from this checkout, it says how to install the kit without the registry.
    const install = /npm install --save-dev (\S+) (\S+) (\S+) {3}# from this Switchyard checkout/.exec(stdout);
    expect(install?.slice(1)).toEqual([
      join(ROOT, 'packages/btl-interface'),
      join(ROOT, 'packages/btl-base'),
      join(ROOT, 'packages/btl-conformance'),
    ]);
    // The package's own README gives the same step: a plain `npm install` fails until they are published.
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain(`\n${install![0]}\nnpm test`);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('switchyard-btl-wire');
    expect(pkg.mca).toEqual({ framework: 'btl', component: 'wire', api: '^1.0.0' });
    expect(Object.keys(pkg.peerDependencies)).toEqual(['@switchyard/btl-base', '@switchyard/btl-interface']);
    expect(pkg.files).toContain('dist');
    for (const f of [
      '.gitignore',
      'README.md',
      'tsconfig.json',
      'vitest.config.ts',
      'src/index.ts',
      'src/component.ts',
      'src/module.ts',
      'test/conformance.test.ts',
    ]) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    expect(readFileSync(join(dir, 'test/conformance.test.ts'), 'utf8')).toMatch(/describeConformance\(\{\s*packageDir:/);
    expect(readFileSync(join(dir, 'src/module.ts'), 'utf8')).toContain('export class WireModule implements BtlModule');
    // Only the public entry point of btl-interface: no deep imports into another package.
    const sources = ['src/index.ts', 'src/component.ts', 'src/module.ts'].map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    expect([...sources.matchAll(/from '([^.][^']*)'/g)].map((m) => m[1])).toEqual(expect.arrayContaining(['@switchyard/btl-interface', '@switchyard/btl-base']));
    expect(sources).not.toMatch(/from '@switchyard\/[^']*\//);
  });

  it('ships its templates in the published switchyard package', () => {
    const files: string[] = JSON.parse(readFileSync(join(ROOT, 'packages/switchyard/package.json'), 'utf8')).files;
    expect(files).toContain('templates');
    expect(existsSync(join(ROOT, 'packages/switchyard/templates/btl/src/module.ts.tmpl'))).toBe(true);
  });

  it('names the package under a scope with --scope', async () => {
    const { code, dir } = await generate('fabric', ['--scope', '@acme']);
    expect(code).toBe(0);
    expect(dir.endsWith('switchyard-btl-fabric')).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name).toBe('@acme/switchyard-btl-fabric');
  });

  it('refuses a bad NAME, a non-empty DIR, a bad scope and a missing kind, writing nothing', async () => {
    const bad = await cli(['new', 'btl', 'My-Link', 'x1'], { cwd: work });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/'My-Link' is not a valid component name: use lower-case letters, digits and '_'.*\(e\.g\. 'my_link'\)/);
    expect(existsSync(join(work, 'x1'))).toBe(false);
    expect((await cli(['new', 'btl', 'base', 'x2'], { cwd: work })).stderr).toMatch(/'base' is reserved/);
    const shipped = await cli(['new', 'btl', 'tcp', 'x4'], { cwd: work });
    expect(shipped.code).toBe(2);
    expect(shipped.stderr).toMatch(/'tcp' is a component Switchyard ships \(btl tcp, in @switchyard\/btl-tcp\); .*choose another name/);
    expect(existsSync(join(work, 'x4'))).toBe(false);
    mkdirSync(join(work, 'full'));
    writeFileSync(join(work, 'full/keep.txt'), 'mine');
    const full = await cli(['new', 'btl', 'ok', 'full'], { cwd: work });
    expect(full.code).toBe(1);
    expect(full.stderr).toContain(`${join(work, 'full')} is not empty (keep.txt)`);
    expect(existsSync(join(work, 'full/package.json'))).toBe(false);
    const scope = await cli(['new', 'btl', 'ok', 'x3', '--scope', 'acme'], { cwd: work });
    expect(scope.code).toBe(2);
    expect(scope.stderr).toMatch(/--scope takes an npm scope such as @acme, got 'acme'/);
    expect((await cli(['new'], { cwd: work })).stderr).toMatch(/missing what to create: one of btl/);
    expect((await cli(['new', 'pml', 'x'], { cwd: work })).stderr).toMatch(/cannot create 'pml': only btl/);
    const help = await cli(['new', '--help'], { cwd: work });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: switchyard new btl NAME \[DIR\]/);
  });

  it('type-checks and builds against the BTL interface; every unimplemented part says what to do next', async () => {
    const { dir } = await generate('probe');
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    expect(
      existsSync(join(ROOT, 'packages/btl-interface/dist/index.d.ts')),
      'run npm run build first: the skeleton builds against the published types',
    ).toBe(true);
    const built = run(TSC, ['-p', 'tsconfig.json'], dir);
    expect(built.output).toBe('');
    expect(built.code).toBe(0);

    const { default: component } = await import(pathToFileURL(join(dir, 'dist/index.js')).href);
    expect(component.checkpointable).toBe(false);
    const log: string[] = [];
    const host = { receive() {}, writable() {}, error() {}, log: (m: string) => log.push(m) };
    const params = {
      get: (n: string) =>
        ({ exclusivity: 101, latency: 100, bandwidth: 1, eager_limit: 1024, max_send_size: 4096, high_water_mark: 1 << 20 })[n],
      fullName: (n: string) => `btl_probe_${n}`,
    };
    const ctx = { jobId: 'j', rank: 0, size: 2, hostname: 'h', secret: 's', params, host, log: () => {} };
    // open() checks what no single parameter can (the kit's manifest rule): an eager limit that does not fit a fragment.
    expect(component.open(ctx)).toMatchObject({ available: true });
    const wide = { ...params, get: (n: string) => (n === 'eager_limit' ? 8192 : params.get(n)) };
    const tooWide = 'btl_probe_eager_limit (8192) must not exceed btl_probe_max_send_size (4096)';
    expect(() => component.open({ ...ctx, params: wide })).toThrow(tooWide);
    await expect(component.init(ctx)).rejects.toThrow(/btl probe: start\(\) is not implemented yet \(src\/module\.ts\)\. Next: acquire what peers need to reach this rank .* \(see "Modex and connection" in docs\/writing-a-btl\.md/);
    // Past start(), each method in turn tells the author the next step.
    const { ProbeModule } = await import(pathToFileURL(join(dir, 'dist/index.js')).href);
    const module = new ProbeModule({
      rank: 0,
      size: 2,
      jobId: 'j',
      hostname: 'h',
      secret: 's',
      host,
      exclusivity: 1,
      latency: 1,
      bandwidth: 1,
      eagerLimit: 1,
      maxSendSize: 1,
      highWaterMark: 1,
    });
    expect(() => module.businessCard).toThrow(/Next: return a JSON object with this module's address/);
    await expect(module.addProcs([{ rank: 1, hostname: 'h', local: true, cards: [] }])).rejects.toThrow(/addProcs\(\) \(1 procs\) is not implemented yet.*Next: for each proc, parse its card/);
    expect(() => module.send({ rank: 1, module }, 0x41, [new Uint8Array(4)])).toThrow(/send\(\) \(tag 65, 1 segments, to rank 1\).*Next: queue the fragment/);
    await expect(module.flush()).rejects.toThrow(/Next: resolve once every send issued before the call/);
    await expect(module.delProcs([])).rejects.toThrow(/Next: close the connections to these peers/);
    await expect(module.finalize()).resolves.toBeUndefined();
  }, 120_000);

  it("fails its conformance tests until the transport is written, with the skeleton's next steps", async () => {
    const { dir } = await generate('todo');
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    expect(run(TSC, ['-p', 'tsconfig.json'], dir).code).toBe(0);
    const tests = run(VITEST, ['run', '--reporter=verbose'], dir);
    expect(tests.code).not.toBe(0);
    expect(tests.output).toMatch(/btl todo: \S+ is not implemented yet \(src\/module\.ts\)\. Next: /);
  }, 300_000);
});
