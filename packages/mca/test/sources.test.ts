import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Mca, McaConfigError } from '../src/index.js';
import { isolated, tree } from './helpers.js';

const NAMES = ['t_default', 't_system', 't_user', 't_project', 't_file', 't_env', 't_cli'];

function registerAll(mca: Mca) {
  for (const name of NAMES) mca.params.register({ name, type: 'string', default: 'd', help: 'test', runtimeSettable: true });
}

/** The McaConfigError checkParams throws, or undefined. */
function checkError(mca: Mca): McaConfigError | undefined {
  try {
    mca.checkParams();
  } catch (e) {
    return e as McaConfigError;
  }
  return undefined;
}

/** Each parameter is set in every source up to its own, so the highest one must win. */
function layered(projectFile: Record<string, string | object>) {
  const upTo = (level: number) => NAMES.slice(level);
  const conf = (level: number, value: string) => upTo(level).map((n) => `${n} = ${value}`).join('\n') + '\n';
  return tree({
    'package.json': { name: 'app', version: '1.0.0' },
    'etc/mca-params.conf': `# system\n${conf(1, 'system')}`,
    'home/.switchyard/mca-params.conf': conf(2, 'user'),
    ...projectFile,
    'mca-params.conf': conf(4, 'file'),
  });
}

describe('parameter sources and precedence', () => {
  it('takes each value from the highest source that sets it, remembering file and line', async () => {
    const root = layered({ '.switchyardrc.json': JSON.stringify(Object.fromEntries(NAMES.slice(3).map((n) => [n, 'project'])), null, 2) });
    const mca = await Mca.load(
      isolated(root, {
        env: { SWITCHYARD_MCA_t_env: 'env', SWITCHYARD_MCA_t_cli: 'env' },
        commandLine: [['t_cli', 'cli']],
      }),
    );
    registerAll(mca);
    const seen = Object.fromEntries(NAMES.map((n) => [n, mca.params.info(n)]));
    expect(seen.t_default).toMatchObject({ value: 'd', source: 'default' });
    expect(seen.t_system).toMatchObject({ value: 'system', source: 'system-file', file: join(root, 'etc/mca-params.conf'), line: 2 });
    expect(seen.t_user).toMatchObject({
      value: 'user',
      source: 'user-file',
      file: join(root, 'home/.switchyard/mca-params.conf'),
      line: 1,
    });
    expect(seen.t_project).toMatchObject({ value: 'project', source: 'project-config', file: join(root, '.switchyardrc.json'), line: 2 });
    expect(seen.t_file).toMatchObject({ value: 'file', source: 'params-file', file: join(root, 'mca-params.conf'), line: 1 });
    expect(seen.t_env).toMatchObject({ value: 'env', source: 'environment' });
    expect(seen.t_cli).toMatchObject({ value: 'cli', source: 'command-line' });

    mca.params.setRuntime('t_cli', 'runtime');
    expect(mca.params.info('t_cli')).toMatchObject({ value: 'runtime', source: 'runtime' });
    mca.params.clearRuntime('t_cli');
    expect(mca.params.info('t_cli')).toMatchObject({ value: 'cli', source: 'command-line' });
  });

  it('takes the launcher command line from SWITCHYARD_MCA_CLI, above the environment', async () => {
    const root = tree({ 'package.json': { name: 'app' } });
    const mca = await Mca.load(
      isolated(root, {
        env: { SWITCHYARD_MCA_t_cli: 'env', SWITCHYARD_MCA_CLI: JSON.stringify([['t_cli', 'cli']]) },
        commandLine: undefined,
      }),
    );
    registerAll(mca);
    expect(mca.params.info('t_cli')).toMatchObject({ value: 'cli', source: 'command-line' });
  });

  it.each([
    ['.switchyardrc', 't_project: yaml\n', 1],
    ['.switchyardrc.yaml', '# c\nt_project: yaml\n', 2],
    ['switchyard.config.json', '{\n  "t_project": "json"\n}\n', 2],
    ['switchyard.config.yaml', 't_project: yaml\n', 1],
    ['switchyard.config.mjs', 'export default {\n  t_project: "mjs",\n};\n', 2],
    ['switchyard.config.cjs', 'module.exports = {\n  t_project: "cjs",\n};\n', 2],
    ['switchyard.config.ts', 'const config: Record<string, string> = {\n  t_project: "ts",\n};\nexport default config;\n', 2],
  ])('finds the project config in %s', async (file, content, line) => {
    const root = tree({ 'package.json': { name: 'app' }, [file]: content });
    const mca = await Mca.load(isolated(root));
    registerAll(mca);
    expect(mca.params.info('t_project')).toMatchObject({ source: 'project-config', file: join(root, file), line });
  });

  it('finds the switchyard key of package.json, from a subfolder of the project', async () => {
    const root = tree({
      'package.json': JSON.stringify({ name: 'app', switchyard: { t_project: 'pkg' } }, null, 2),
      'src/deep/x.txt': '',
    });
    const mca = await Mca.load(isolated(root, { cwd: join(root, 'src/deep') }));
    registerAll(mca);
    expect(mca.params.info('t_project')).toMatchObject({ value: 'pkg', file: join(root, 'package.json'), line: 4 });
  });

  it('reads the parameter files named by mca_param_files, the leftmost winning', async () => {
    const root = tree({ 'package.json': { name: 'app' }, 'a.conf': 't_file = a\n', 'b.conf': 't_file = b\nt_env = b\n' });
    const mca = await Mca.load(isolated(root, { commandLine: [['mca_param_files', 'a.conf:b.conf']] }));
    registerAll(mca);
    expect(mca.params.info('t_file')).toMatchObject({ value: 'a', file: join(root, 'a.conf') });
    expect(mca.params.info('t_env')).toMatchObject({ value: 'b', file: join(root, 'b.conf') });
  });
});

async function loadError(root: string, extra = {}): Promise<McaConfigError> {
  const err = await Mca.load(isolated(root, extra)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(McaConfigError);
  return err as McaConfigError;
}

describe('bad input is reported with where it came from, and nothing is used', () => {
  it('names file, line and column of a JSON config that does not parse', async () => {
    const root = tree({ 'package.json': { name: 'app' }, '.switchyardrc.json': '{\n  "btl": "tcp",\n  "x" 1\n}\n' });
    const err = await loadError(root);
    expect(err.message).toContain(`${join(root, '.switchyardrc.json')}:3:7: invalid JSON`);
  });

  it('names file, line and column of a YAML config that does not parse', async () => {
    const root = tree({ 'package.json': { name: 'app' }, 'switchyard.config.yaml': 'btl: tcp\nfoo: bar: baz\n' });
    const err = await loadError(root);
    expect(err.issues[0]!.location).toMatchObject({ file: join(root, 'switchyard.config.yaml'), line: 2, column: 6 });
    expect(err.message).toMatch(/invalid YAML/);
  });

  it.each([
    ['a trailing comma', '{\n  "btl": "tcp",\n}\n', 3, 1],
    ['a misspelled literal', '{\n  "btl_tcp_nodelay": tru,\n  "btl": "tcp"\n}\n', 2, 25],
    ['a missing comma', '{\n  "a": 1\n  "b": 2\n}\n', 3, 3],
    ['a file cut short', '{\n  "btl": "tcp"\n', 2, 15],
  ])('names the line and column of %s in a JSON config', async (_what, text, line, column) => {
    const root = tree({ 'package.json': { name: 'app' }, '.switchyardrc.json': text });
    const err = await loadError(root);
    expect(err.issues[0]!.location).toMatchObject({ file: join(root, '.switchyardrc.json'), line, column });
    expect(err.message).toContain(`${join(root, '.switchyardrc.json')}:${line}:${column}: invalid JSON`);
    expect(err.message).not.toContain('is not valid JSON');
  });

  it('names the over-indented line of a YAML config, not the line before it', async () => {
    const yaml = 'btl_tcp_nodelay: true\nbtl: tcp,self\n  btl_tcp_eager_limit: 64k\n';
    const root = tree({ 'package.json': { name: 'app' }, '.switchyardrc.yaml': yaml });
    const err = await loadError(root);
    expect(err.message).toContain(`${join(root, '.switchyardrc.yaml')}:3:3: invalid YAML: unexpected indentation`);
  });

  it('names file and line of a JS config with a syntax error', async () => {
    const root = tree({ 'package.json': { name: 'app' }, 'switchyard.config.mjs': 'export default {\n  btl: "tcp",\n  oops oops\n};\n' });
    const err = await loadError(root);
    expect(err.issues[0]!.location).toMatchObject({ file: join(root, 'switchyard.config.mjs'), line: 3 });
  });

  it('refuses a project config that is not a flat map', async () => {
    const root = tree({ 'package.json': { name: 'app' }, '.switchyardrc.json': '{\n  "btl": { "tcp": true }\n}\n' });
    const err = await loadError(root);
    expect(err.message).toContain(`${join(root, '.switchyardrc.json')}:2:3: 'btl' must be a string, number, boolean or list`);
  });

  it('refuses two project configs in one folder, naming both: only one would be read', async () => {
    const root = tree({ 'package.json': { name: 'app', switchyard: { btl: 'tcp,self' } }, '.switchyardrc.yaml': 'btl: sm,self\n' });
    const err = await loadError(root);
    expect(err.issues[0]!.location).toMatchObject({ file: join(root, '.switchyardrc.yaml') });
    expect(err.message).toContain(
      '2 project configs in one folder (package.json, .switchyardrc.yaml): only package.json would be read; keep one',
    );
  });

  it('refuses a parameter file or project config that is not a regular file, naming what it is (a FIFO would block the read)', async () => {
    const root = tree({ 'package.json': { name: 'app' } });
    spawnSync('mkfifo', [join(root, 'mca-params.conf')]);
    expect((await loadError(root)).message).toContain(
      `${join(root, 'mca-params.conf')}: cannot read parameter file: it is a FIFO (named pipe); it must be a regular file`,
    );
    rmSync(join(root, 'mca-params.conf'));
    mkdirSync(join(root, '.switchyardrc.yml'));
    expect((await loadError(root)).message).toContain(`${join(root, '.switchyardrc.yml')}: cannot read project config: it is a folder`);
    rmSync(join(root, '.switchyardrc.yml'), { recursive: true });
    symlinkSync(join(root, 'gone.json'), join(root, '.switchyardrc.json'));
    expect((await loadError(root)).message).toContain(
      `${join(root, '.switchyardrc.json')}: cannot read project config: ` +
        `it is a symbolic link to ${join(root, 'gone.json')}, which does not exist`,
    );
  });

  it('refuses a parameter file or project config over 1 MiB, naming it and its size, before reading it', async () => {
    const big = `# padding\n${'#'.repeat(2 * 1024 * 1024)}\nbtl = tcp,self\n`;
    const conf = tree({ 'package.json': { name: 'app' }, 'mca-params.conf': big });
    expect((await loadError(conf)).message).toContain(
      `${join(conf, 'mca-params.conf')}: cannot read parameter file: it is 2.0 MiB, and a configuration file holds at most 1 MiB`,
    );
    const yaml = tree({ 'package.json': { name: 'app' }, '.switchyardrc.yml': `btl: tcp,self\n${'#'.repeat(2 * 1024 * 1024)}\n` });
    expect((await loadError(yaml)).message).toContain(
      `${join(yaml, '.switchyardrc.yml')}: cannot read project config: it is 2.0 MiB, and a configuration file holds at most 1 MiB`,
    );
  });

  it('names file, line and column of bytes that are not UTF-8, in a parameter file and in a project config', async () => {
    const conf = tree({ 'package.json': { name: 'app' } });
    writeFileSync(join(conf, 'mca-params.conf'), Buffer.from([...Buffer.from('# ok\nbtl = tcp,self'), 0xfe, 0x0a]));
    expect((await loadError(conf)).message).toContain(`${join(conf, 'mca-params.conf')}:2:15: bytes that are not UTF-8`);
    const yaml = tree({ 'package.json': { name: 'app' } });
    writeFileSync(join(yaml, '.switchyardrc.yml'), Buffer.from([...Buffer.from('btl: "tcp'), 0xc3, 0x22, 0x0a]));
    expect((await loadError(yaml)).message).toContain(`${join(yaml, '.switchyardrc.yml')}:1:10: bytes that are not UTF-8`);
  });

  it('names file, line and column of a bad line in an mca-params.conf', async () => {
    const root = tree({ 'package.json': { name: 'app' }, 'home/.switchyard/mca-params.conf': '# ok\nbtl = tcp\n  just words\n' });
    const err = await loadError(root);
    expect(err.message).toContain(`${join(root, 'home/.switchyard/mca-params.conf')}:3:3: expected 'key = value', found 'just words'`);
  });

  it.each([
    ['a JSON config', '.switchyardrc.json', '{\n  "btl": "tcp,self",\n  "l": [{ "btl": 1 }],\n  "btl": "sm"\n}\n', 4, 'lines 2 and 4'],
    ['an mca-params.conf', 'home/.switchyard/mca-params.conf', 'btl = tcp,self\n# more\n  btl = sm,self\n', 3, 'lines 1 and 3'],
  ])('names both lines of a parameter %s sets twice (neither value is used)', async (_what, file, text, line, lines) => {
    const root = tree({ 'package.json': { name: 'app' }, [file]: text });
    const err = await loadError(root);
    expect(err.issues[0]!.location).toMatchObject({ file: join(root, file), line, column: 3 });
    expect(err.message).toContain(`'btl' is set twice, at ${lines}: set it once`);
  });

  it('finds a duplicate under the switchyard key of a package.json, not in the rest of it', async () => {
    const text = '{\n  "name": "switchyard",\n  "btl": 1,\n  "switchyard": {\n    "btl": "tcp,self",\n    "btl": "sm,self"\n  }\n}\n';
    const root = tree({ 'package.json': text });
    const err = await loadError(root);
    expect(err.message).toContain(`${join(root, 'package.json')}:6:5: 'btl' is set twice, at lines 5 and 6: set it once`);
  });

  it('reports every problem of every source together', async () => {
    const root = tree({
      'package.json': { name: 'app' },
      'etc/mca-params.conf': '= 3\n',
      'home/.switchyard/mca-params.conf': 'x = "unterminated\n',
    });
    const err = await loadError(root, { commandLine: [['mca_param_files', 'missing.conf']] });
    expect(err.issues).toHaveLength(3);
    expect(err.message).toMatch(/missing parameter name/);
    expect(err.message).toMatch(/unterminated quoted value/);
    expect(err.message).toMatch(/missing\.conf' named by mca_param_files does not exist/);
  });

  it('names the parameter, the source with file and line, and the expected type of a wrong value', async () => {
    const root = tree({ 'package.json': { name: 'app' }, 'mca-params.conf': '\nbtl_tcp_eager_limit = lots\n' });
    const mca = await Mca.load(isolated(root, { env: { SWITCHYARD_MCA_btl_tcp_links: 'two' } }));
    mca.params.register({ name: 'btl_tcp_eager_limit', type: 'size', default: 65536, help: 'h' });
    mca.params.register({ name: 'btl_tcp_links', type: 'integer', default: 1, help: 'h' });
    expect(() => mca.checkParams()).toThrow(McaConfigError);
    const message = (() => {
      try {
        mca.checkParams();
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(message).toContain(
      `${join(root, 'mca-params.conf')}:2: MCA parameter 'btl_tcp_eager_limit' (type size) from params file: expected a size`,
    );
    expect(message).toContain(
      `MCA parameter 'btl_tcp_links' (type integer) from environment (SWITCHYARD_MCA_btl_tcp_links): expected an integer, got 'two'`,
    );
  });

  it.each([
    ['the command line', {}, [['btl_x_port', '-0x10']], 'from command line'],
    ['the environment', { SWITCHYARD_MCA_btl_x_port: '-0x10' }, [], 'from environment (SWITCHYARD_MCA_btl_x_port)'],
    ['a params file', {}, [], 'mca-params.conf:1: MCA parameter'],
  ])('reads signed hex once: -0x10 from %s is -16, which min 0 refuses, naming parameter and source', async (_from, env, cli, where) => {
    const conf = cli.length || Object.keys(env).length ? '' : 'btl_x_port = -0x10\n';
    const root = tree({ 'package.json': { name: 'app' }, 'mca-params.conf': conf });
    const mca = await Mca.load(isolated(root, { env, commandLine: cli }));
    mca.params.register({ name: 'btl_x_port', type: 'integer', default: 0, min: 0, help: 'h' });
    const err = checkError(mca);
    expect(err).toBeInstanceOf(McaConfigError);
    expect(err!.message).toContain(where);
    expect(err!.message).toContain(`MCA parameter 'btl_x_port' (type integer)`);
    expect(err!.message).toContain('must be at least 0, got -16');
  });

  it.each([
    ['the command line', { commandLine: [['btl', '']] }, {}, 'from command line'],
    ['a params file', {}, { 'mca-params.conf': 'btl =\n' }, 'mca-params.conf:1:'],
    ['a project config', {}, { '.switchyardrc.json': '{ "btl": "" }' }, 'from project config'],
  ])('refuses an empty btl from %s, saying how to ask for every transport', async (_from, options, files, where) => {
    const root = tree({ 'package.json': { name: 'app' }, ...files });
    const mca = await Mca.load(isolated(root, options));
    mca.framework({ name: 'btl', apiVersion: '1.0.0', description: 'test' });
    const err = checkError(mca);
    expect(err).toBeInstanceOf(McaConfigError);
    expect(err!.message).toContain(where);
    expect(err!.message).toContain(`MCA parameter 'btl' (type list)`);
    expect(err!.message).toMatch(/must not be empty: to use every available btl component leave btl unset, or exclude some with \^/);
    // Unset is still "all", and a runtime change to empty is refused, keeping the value.
    expect(() => mca.params.setRuntime('btl', ' ')).toThrow(/must not be empty/);
  });

  it('warns about an unknown parameter with the closest known name', async () => {
    const root = tree({ 'package.json': { name: 'app' }, 'mca-params.conf': 'btl_tcp_eagr_limit = 1k\n' });
    const warnings: string[] = [];
    const mca = await Mca.load(isolated(root));
    mca.hooks.warning.tap('test', (w) => void warnings.push(w));
    mca.params.register({ name: 'btl_tcp_eager_limit', type: 'size', default: 65536, help: 'h' });
    mca.checkParams();
    expect(warnings).toEqual([
      `unknown MCA parameter 'btl_tcp_eagr_limit' from params file (${join(root, 'mca-params.conf')}:1); did you mean ` +
        `'btl_tcp_eager_limit'?`,
    ]);
  });

  it('suggests the parameter an unknown name differs from in case only (SWITCHYARD_MCA_BTL)', async () => {
    const root = tree({ 'package.json': { name: 'app' } });
    const warnings: string[] = [];
    const mca = await Mca.load(isolated(root, { env: { SWITCHYARD_MCA_BTL: 'tcp,self' } }));
    mca.hooks.warning.tap('test', (w) => void warnings.push(w));
    mca.params.register({ name: 'btl', type: 'list', default: [], help: 'h' });
    mca.checkParams();
    expect(warnings).toEqual(["unknown MCA parameter 'BTL' from environment; did you mean 'btl'?"]);
  });

  it('refuses a runtime change of the wrong type and keeps the old value', async () => {
    const root = tree({ 'package.json': { name: 'app' } });
    const mca = await Mca.load(isolated(root));
    mca.params.register({ name: 'btl_x_limit', type: 'size', default: 1024, help: 'h', runtimeSettable: true });
    mca.params.register({ name: 'btl_x_fixed', type: 'size', default: 1024, help: 'h' });
    expect(() => mca.params.setRuntime('btl_x_limit', 'big')).toThrow(/btl_x_limit.*expected a size/);
    expect(() => mca.params.setRuntime('btl_x_fixed', '2k')).toThrow(/cannot be changed while a job runs/);
    expect(() => mca.params.setRuntime('btl_x_limt', '2k')).toThrow(/did you mean 'btl_x_limit'/);
    expect(mca.params.info('btl_x_limit')).toMatchObject({ value: 1024, source: 'default' });
  });
});

describe('a TypeScript project config', () => {
  /** A package named typescript that leaves `marker` behind when imported, and compiles every config to `{ t_project: 'own' }`. */
  const plantTypeScript = (folder: string, marker: string) => {
    const dir = join(folder, 'node_modules/typescript');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'typescript', version: '9.9.9', main: 'index.js' }));
    writeFileSync(
      join(dir, 'index.js'),
      `require('node:fs').writeFileSync(${JSON.stringify(marker)}, '');\n` +
        'module.exports = { ModuleKind: { ES2022: 7 }, ScriptTarget: { ES2022: 9 },\n' +
        '  transpileModule: () => ({ outputText: \'export default { t_project: "own" };\\n\', diagnostics: [] }) };\n',
    );
  };
  const config = 'const config: Record<string, string> = {\n  t_project: "ts",\n};\nexport default config;\n';

  it('never runs a typescript package from a folder above the project, and leaves no compiled file', async () => {
    const outer = tree({ 'app/package.json': { name: 'app' }, 'app/switchyard.config.ts': config });
    const marker = join(outer, 'ran');
    plantTypeScript(outer, marker);
    const app = join(outer, 'app');
    const mca = await Mca.load(isolated(app));
    registerAll(mca);
    expect(mca.params.info('t_project')).toMatchObject({ value: 'ts', file: join(app, 'switchyard.config.ts'), line: 2 });
    expect(existsSync(marker)).toBe(false);
    expect(readdirSync(app).sort()).toEqual(['package.json', 'switchyard.config.ts']);
  });

  it("compiles with the project's own typescript when it has one", async () => {
    const root = tree({ 'package.json': { name: 'app' }, 'switchyard.config.ts': config });
    const marker = join(root, 'ran');
    plantTypeScript(root, marker);
    const mca = await Mca.load(isolated(root));
    registerAll(mca);
    expect(mca.params.get('t_project')).toBe('own');
    expect(existsSync(marker)).toBe(true);
  });

  it('passes over a typescript without a compiler API (7 has none) for another compiler', async () => {
    const root = tree({
      'package.json': { name: 'app' },
      'switchyard.config.ts': config,
      'node_modules/typescript/package.json': { name: 'typescript', version: '7.0.2', exports: { '.': './lib/version.cjs' } },
      'node_modules/typescript/lib/version.cjs': 'module.exports = { version: "7.0.2" };\n',
    });
    const mca = await Mca.load(isolated(root));
    registerAll(mca);
    expect(mca.params.get('t_project')).toBe('ts');
  });

  it('loads in several ranks at once, each compiling to a file of its own', async () => {
    const root = tree({ 'package.json': { name: 'app' }, 'switchyard.config.ts': config });
    const loads = await Promise.all(Array.from({ length: 6 }, () => Mca.load(isolated(root))));
    for (const mca of loads) {
      registerAll(mca);
      expect(mca.params.get('t_project')).toBe('ts');
    }
    expect(readdirSync(root).sort()).toEqual(['package.json', 'switchyard.config.ts']);
  });

  it.skipIf(process.getuid?.() === 0)('loads from a folder this user may not write, without writing there', async () => {
    const root = tree({ 'package.json': { name: 'app' }, 'switchyard.config.ts': config });
    chmodSync(root, 0o555);
    try {
      const mca = await Mca.load(isolated(root));
      registerAll(mca);
      expect(mca.params.get('t_project')).toBe('ts');
    } finally {
      chmodSync(root, 0o755);
    }
  });

  it('names file and line of a syntax error', async () => {
    const root = tree({ 'package.json': { name: 'app' }, 'switchyard.config.ts': 'export default {\n  btl: "tcp",\n  oops oops\n};\n' });
    const err = await loadError(root);
    expect(err.issues[0]!.location).toMatchObject({ file: join(root, 'switchyard.config.ts'), line: 3 });
  });
});
