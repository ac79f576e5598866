import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Mca, McaConfigError } from '../src/index.js';
import { isolated, tree } from './helpers.js';

const NAMES = ['t_default', 't_system', 't_user', 't_project', 't_file', 't_env', 't_cli'];

function registerAll(mca: Mca) {
  for (const name of NAMES) mca.params.register({ name, type: 'string', default: 'd', help: 'test', runtimeSettable: true });
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

describe('bad input is reported with where it came from, and nothing is used', () => {
  async function loadError(root: string, extra = {}): Promise<McaConfigError> {
    const err = await Mca.load(isolated(root, extra)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(McaConfigError);
    return err as McaConfigError;
  }

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

  it('names file, line and column of a bad line in an mca-params.conf', async () => {
    const root = tree({ 'package.json': { name: 'app' }, 'home/.switchyard/mca-params.conf': '# ok\nbtl = tcp\n  just words\n' });
    const err = await loadError(root);
    expect(err.message).toContain(`${join(root, 'home/.switchyard/mca-params.conf')}:3:3: expected 'key = value', found 'just words'`);
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
