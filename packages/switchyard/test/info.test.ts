import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from './capture.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** An application folder with a third-party BTL in its own node_modules, outside this repo. */
function app(files: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'sy-info-'));
  dirs.push(root);
  const all: Record<string, string> = {
    'package.json': JSON.stringify({ name: 'my-app', version: '1.0.0' }),
    'node_modules/mca-btl-carrier/package.json': JSON.stringify({
      name: 'mca-btl-carrier',
      version: '2.1.0',
      type: 'module',
      main: 'index.js',
      mca: { framework: 'btl', component: 'carrier', api: '^1.0.0' },
    }),
    'node_modules/mca-btl-carrier/index.js': `export default {
      checkpointable: true,
      register(ctx) { ctx.param({ name: 'pigeons', type: 'integer', default: 12, help: 'How many pigeons to keep.', level: 'tuner' }); },
      init() { return []; },
    };`,
    'node_modules/mca-btl-future/package.json': JSON.stringify({
      name: 'mca-btl-future',
      version: '9.0.0',
      mca: { framework: 'btl', component: 'future', api: '^2.0.0' },
    }),
    ...files,
  };
  for (const [path, content] of Object.entries(all)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

describe('switchyard info', () => {
  it("checks first-party components' parameters in a project that has them in its own node_modules", async () => {
    // As after `npm install @switchyard/mpi`: the installation's @switchyard folder is the project's own.
    const root = app();
    const installation = realpathSync(join(dirname(fileURLToPath(import.meta.url)), '../../../node_modules/@switchyard'));
    symlinkSync(installation, join(root, 'node_modules/@switchyard'));
    // A bad --mca value is a usage error (2), as for 'switchyard run'; the same value from the environment is a bad configuration (1).
    const bad = await cli(['info', '--mca', 'btl_tcp_eager_limit', 'abc'], { cwd: root });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/MCA parameter 'btl_tcp_eager_limit' \(type size\) from command line: expected a size/);
    const badEnv = await cli(['info'], { cwd: root, env: { HOME: root, SWITCHYARD_MCA_btl_tcp_eager_limit: 'abc' } });
    expect(badEnv.code).toBe(1);
    expect(badEnv.stderr).toMatch(/MCA parameter 'btl_tcp_eager_limit' \(type size\) from environment/);
    const typo = await cli(['info', '--mca', 'btl_tcp_eagr_limit', '4k'], { cwd: root });
    expect(typo.code).toBe(0);
    expect(typo.stderr).toMatch(/unknown MCA parameter 'btl_tcp_eagr_limit' from command line; did you mean 'btl_tcp_eager_limit'\?/);
  });

  it('lists first-party and third-party components with package, API range, where found and status', async () => {
    const root = app();
    const { code, stdout } = await cli(['info'], { cwd: root });
    expect(code).toBe(0);
    expect(stdout).toMatch(/MCA btl: framework, API v1\.2\.0, selection btl=\(all\)/);
    // A third-party component is listed from its package.json: its code does not run.
    expect(stdout).toMatch(/MCA btl: carrier +\(mca-btl-carrier v2\.1\.0, API \^1\.0\.0\) declared: read from its package\.json, not imported/);
    expect(stdout).toContain(`found in ${join(root, 'node_modules/mca-btl-carrier')} (the project's node_modules)`);
    expect(stdout).toMatch(new RegExp(`Project root: ${root}\n`));
    expect(stdout).toMatch(/MCA btl: future +\(mca-btl-future v9\.0\.0, API \^2\.0\.0\) skipped: supports btl API \^2\.0\.0, but this framework is API 1\.2\.0/);
    expect(stdout).toMatch(/MCA btl: self +\(@switchyard\/btl-self v0\.1\.0, API \^1\.0\.0\) available/);
  });

  it('loads a CommonJS component however it exports it: module.exports, exports.component, or TypeScript\'s exports.default', async () => {
    const body = '{ checkpointable: true, register() {}, open() { return { available: true }; }, async init() { return []; } }';
    const cjs = (name: string, source: string): Record<string, string> => ({
      [`node_modules/mca-btl-${name}/package.json`]: JSON.stringify({
        name: `mca-btl-${name}`,
        version: '1.0.0',
        main: 'index.js',
        mca: { framework: 'btl', component: name, api: '^1.0.0' },
      }),
      [`node_modules/mca-btl-${name}/index.js`]: source,
    });
    const root = app({
      ...cjs('whole', `module.exports = ${body};`),
      ...cjs('named', `exports.component = ${body};`),
      ...cjs('tsdefault', `"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nexports.default = ${body};`),
    });
    for (const name of ['whole', 'named', 'tsdefault']) {
      const { code, stdout, stderr } = await cli(['info', '--param', 'btl', name], { cwd: root });
      expect(code, stderr).toBe(0);
      expect(stdout).toMatch(new RegExp(`MCA btl: ${name} +\\(mca-btl-${name} v1\\.0\\.0, API \\^1\\.0\\.0\\) available`));
    }
  });

  it('lists a package that declares a framework without components as not a component, saying why', async () => {
    const root = app({
      'node_modules/mca-pml-fast/package.json': JSON.stringify({
        name: 'mca-pml-fast',
        version: '1.0.0',
        main: 'index.js',
        mca: { framework: 'pml', component: 'fast', api: '^1.0.0' },
      }),
      'node_modules/mca-pml-fast/index.js': 'export default {};',
    });
    const { code, stdout } = await cli(['info'], { cwd: root });
    expect(code).toBe(0);
    expect(stdout).toMatch(/Not a component: mca-pml-fast in \S+mca-pml-fast: declares framework 'pml', which takes no components \(frameworks with components: btl\)/);
  });

  it('shows parameters with value, source, file and line, level and help', async () => {
    const root = app({ 'mca-params.conf': '# tuning\nbtl_carrier_pigeons = 40\n' });
    const { code, stdout } = await cli(['info', '--param', 'btl', 'carrier', '--level', '9'], { cwd: root });
    expect(code).toBe(0);
    expect(stdout).toContain(
      `MCA btl carrier: parameter "btl_carrier_pigeons" (current value: "40", data source: params file ` +
        `(${join(root, 'mca-params.conf')}:2), level: 4 tuner/basic, type: integer)`,
    );
    expect(stdout).toContain('How many pigeons to keep.');
    expect(stdout).not.toContain('btl_self_eager_limit');
  });

  it('gives the same as JSON, with the command line as source', async () => {
    const root = app();
    const { code, stdout } = await cli(['info', '--param', 'all', '--level', '9', '--json', '--mca', 'btl_self_eager_limit', '2k'], {
      cwd: root,
    });
    expect(code).toBe(0);
    const json = JSON.parse(stdout);
    const btl = json.frameworks.find((f: { name: string }) => f.name === 'btl');
    expect(btl.components.find((c: { name: string }) => c.name === 'future')).toMatchObject({
      status: 'skipped',
      package: 'mca-btl-future',
    });
    expect(json.params.find((p: { name: string }) => p.name === 'btl_self_eager_limit')).toMatchObject({
      value: 2048,
      text: '2k',
      type: 'size',
      source: 'command-line',
      component: 'self',
    });
    expect(json.params.find((p: { name: string }) => p.name === 'btl')).toMatchObject({ framework: 'btl', type: 'list' });
  });

  it('shows the selection, marks excluded components, and warns about an unknown parameter', async () => {
    const root = app({ '.switchyardrc.json': '{\n  "btl": "^carrier",\n  "btl_self_eagr_limit": "1k"\n}\n' });
    const { code, stdout, stderr } = await cli(['info'], { cwd: root });
    expect(code).toBe(0);
    expect(stdout).toMatch(/selection btl=\^carrier/);
    expect(stdout).toMatch(/carrier .* excluded: not selected by btl=\^carrier/);
    expect(stderr).toContain(
      `unknown MCA parameter 'btl_self_eagr_limit' from project config (${join(root, '.switchyardrc.json')}:3); did you mean ` +
        `'btl_self_eager_limit'?`,
    );
    // Once, not once per listener.
    expect(stderr.split('btl_self_eagr_limit').length - 1).toBe(1);
  });

  it('reports the CRIU that checkpoint save would use, or why there is none (--criu, crs_criu_path)', async () => {
    const root = app();
    const text = await cli(['info', '--criu', join(root, 'no-criu')], { cwd: root });
    expect(text.code).toBe(0);
    const unusable = `CRIU (checkpoint save): unusable: ${join(root, 'no-criu')} is not an executable file. CRIU 4.2 or newer is needed`;
    expect(text.stdout).toContain(unusable);
    const old = join(root, 'criu-3.17');
    writeFileSync(old, '#!/bin/sh\necho "Version: 3.17"\n', { mode: 0o755 });
    const json = JSON.parse((await cli(['info', '--json', '--mca', 'crs_criu_path', old], { cwd: root })).stdout);
    expect(json.criu).toMatchObject({ path: old, version: '3.17', checkOk: false, problem: { code: 'ERR_SWITCHYARD_CRIU_TOO_OLD' } });
  });

  it('exits 1 naming file and line when the configuration is bad', async () => {
    const root = app({ 'mca-params.conf': 'btl_carrier_pigeons = many\n' });
    // Checked once the component declared the parameter: when it is imported, here because --param asks about it.
    const { code, stderr } = await cli(['info', '--param', 'btl', 'carrier'], { cwd: root });
    expect(code).toBe(1);
    expect(stderr).toContain(
      `${join(root, 'mca-params.conf')}:1: MCA parameter 'btl_carrier_pigeons' (type integer) from params file: expected an integer, got ` +
        `'many'`,
    );
  });

  it('exits 2 (usage, as run) when an included component named by --mca does not exist, listing what is available', async () => {
    const root = app();
    const { code, stderr } = await cli(['info', '--mca', 'btl', 'self,warp'], { cwd: root });
    expect(code).toBe(2);
    expect(stderr).toMatch(/btl component 'warp' was requested \(btl=self,warp\) but was not found\. Available btl components: .*carrier.*self/);
  });

  it('names where a selection came from (--mca, or file and line); warns as run does of an exclusion that excludes nothing', async () => {
    const root = app({ 'mca-params.conf': '# selection\nbtl = self,warp\n' });
    const fromFile = await cli(['info'], { cwd: root });
    expect(fromFile.code).toBe(1);
    expect(fromFile.stderr).toContain(`${join(root, 'mca-params.conf')}:2: btl component 'warp' was requested (btl=self,warp)`);
    const fromCommandLine = await cli(['info', '-mca', 'btl', 'self,warp', '-json'], { cwd: root });
    expect(fromCommandLine.stderr).toContain("--mca btl: btl component 'warp' was requested");
    expect(JSON.parse(fromCommandLine.stdout)).toMatchObject({ ok: false, outcome: 'usage', code: 'ERR_SWITCHYARD_USAGE' });
    const excluding = await cli(['info', '--mca', 'btl', '^warp'], { cwd: root });
    expect(excluding.code).toBe(0);
    expect(excluding.stderr).toContain("--mca btl: 'warp' in btl=^warp is not a btl component here, so it excludes nothing");
  });

  it('shows level 1 by default as ompi_info, says how many more there are, and everything with --level 9 or --all', async () => {
    const root = app();
    const basic = await cli(['info', '--param', 'btl', 'carrier'], { cwd: root });
    expect(basic.code).toBe(0);
    expect(basic.stdout).not.toContain('btl_carrier_pigeons');
    expect(basic.stdout).toMatch(/\d+ more parameters? above level 1: --level 9 \(or --all\) shows them/);
    expect((await cli(['info', '--param', 'btl', 'carrier', '--level', '4'], { cwd: root })).stdout).toContain('btl_carrier_pigeons');
    for (const argv of [['--all'], ['-a'], ['-all']]) {
      const { code, stdout } = await cli(['info', ...argv], { cwd: root });
      expect(code).toBe(0);
      expect(stdout).toContain('parameter "btl_carrier_pigeons"');
      expect(stdout).toContain('parameter "btl_self_eager_limit"');
      expect(stdout).toMatch(/MCA btl: carrier +\(mca-btl-carrier/);
      expect(stdout).not.toContain('more parameter');
    }
    // --all keeps a --level given with it, as ompi_info -a.
    expect((await cli(['info', '--all', '--level', '1'], { cwd: root })).stdout).not.toContain('btl_carrier_pigeons');
  });

  it("takes ompi_info's --param all all and --param FRAMEWORK all, with one dash too", async () => {
    const root = app();
    const every = await cli(['info', '--param', 'all', 'all', '--level', '9'], { cwd: root });
    expect(every.code).toBe(0);
    for (const name of ['btl_carrier_pigeons', 'btl_tcp_eager_limit', 'pml_send_window', 'mca_component_path'])
      expect(every.stdout).toContain(`parameter "${name}"`);
    const btl = await cli(['info', '-param', 'btl', 'all', '-level', '9'], { cwd: root });
    expect(btl.code).toBe(0);
    expect(btl.stdout).toContain('parameter "btl_carrier_pigeons"');
    expect(btl.stdout).toContain('parameter "btl_tcp_eager_limit"');
    expect(btl.stdout).not.toContain('parameter "pml_send_window"');
  });

  it("prints ompi_info's --parsable lines: parameters only with --param, the components without", async () => {
    const root = app({ 'mca-params.conf': 'btl_carrier_pigeons = 40\n' });
    const { code, stdout } = await cli(['info', '--param', 'btl', 'carrier', '--level', '9', '--parsable'], { cwd: root });
    expect(code).toBe(0);
    const at = 'mca:btl:carrier:param:btl_carrier_pigeons:';
    expect(stdout.split('\n').filter((l) => l.startsWith(at))).toEqual([
      `${at}value:40`,
      `${at}source:params file (${join(root, 'mca-params.conf')}:1)`,
      `${at}status:read-only`,
      `${at}level:4`,
      `${at}help:How many pigeons to keep.`,
      `${at}deprecated:no`,
      `${at}type:integer`,
    ]);
    expect(stdout.split('\n').filter(Boolean).every((l) => l.startsWith('mca:btl:'))).toBe(true);

    const listing = await cli(['info', '--parseable'], { cwd: root });
    expect(listing.code).toBe(0);
    expect(listing.stdout).toMatch(/^package:@switchyard\/mpi \S+\n/);
    expect(listing.stdout).toContain('\nmca:btl:carrier:version:component:2.1.0\n');
    expect(listing.stdout).toContain('\nmca:btl:carrier:version:api:^1.0.0\n');
    expect(listing.stdout).toContain('\nmca:btl:future:status:skipped\n');
    expect(listing.stdout).toContain('\nmca:btl:self:status:available\n');
    expect(listing.stdout).not.toContain(':param:');
  });

  it('quotes a parsable value that holds a colon, and lists the values of an enum', async () => {
    const root = app();
    const { stdout } = await cli(['info', '--param', 'all', 'all', '--level', '9', '--parsable', '--mca', 'mca_component_path', '/a:/b'], {
      cwd: root,
    });
    expect(stdout).toContain('\nmca:mca:base:param:mca_component_path:value:"/a:/b"\n');
    expect(stdout).toMatch(/\nmca:\w+:\w+:param:\w+:enumerator:value:0:\w+\n/);
  });

  it('rejects bad usage with exit 2, naming what was wrong', async () => {
    const root = app();
    const cases: Array<[string[], string]> = [
      [['--level', '12'], "--level takes a number from 1 to 9, got '12'"],
      [['--level', '0'], "--level takes a number from 1 to 9, got '0'"],
      [['--param', 'btl', 'nosuch'], "no btl component 'nosuch'"],
      [['--param', 'nosuch', 'all'], "no framework 'nosuch'"],
      [['--param', 'pml', 'fw'], "pml takes no components: its parameters are the framework's own (--param pml all)"],
      [['--param', 'all', 'tcp'], "--param all takes 'all' as its component (every framework's parameters), got 'tcp'"],
      [['--parsable', '--json'], '--parsable and --json are two output formats: choose one'],
      [['--bogus'], "unknown option '--bogus'"],
      [['--param', 'btl', 'nosuch', '--json'], "no btl component 'nosuch'"],
    ];
    for (const [argv, message] of cases) {
      const { code, stdout, stderr } = await cli(['info', ...argv], { cwd: root });
      expect(code, argv.join(' ')).toBe(2);
      // Asked for JSON, the error is answered on stdout too (a tool parses it).
      if (argv.includes('--json')) {
        const answer = { ok: false, outcome: 'usage', code: 'ERR_SWITCHYARD_USAGE', message: expect.stringContaining(message) };
        expect(JSON.parse(stdout)).toEqual(answer);
      } else expect(stdout).toBe('');
      expect(stderr).toContain(`switchyard info: ${message}`);
    }
    const help = await cli(['info', '--help'], { cwd: root });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/default 1, as ompi_info/);
    expect(help.stdout).toMatch(/Exit codes: 0 listed; 1 the configuration is bad[^\n]*\n2 usage error/);
  });
});
