import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  findProjectRoot, Mca, McaConfigError, type McaComponent, resolveTrustedPackage, STRICT_TRUST, UntrustedFileIssue,
} from '../src/index.js';
import { componentPackage, isolated, tree } from './helpers.js';

const FRAMEWORK = { name: 'demo', apiVersion: '1.0.0', description: 'test framework' };
const COMPONENT = `export default { register(ctx) { ctx.param({ name: 'depth', type: 'integer', default: 3, help: 'how deep' }); } };`;
const IS_ROOT = process.getuid?.() === 0;
/** `nobody` on Linux: a user that is neither the tester nor root. */
const OTHER_UID = 65534;

async function demo(root: string, extra: Record<string, unknown> = {}) {
  const mca = await Mca.load(isolated(join(root, 'app'), extra));
  const fw = mca.framework<McaComponent, unknown, unknown>(FRAMEWORK);
  await fw.register();
  return { mca, fw };
}

function appWith(component: string) {
  return tree({
    'app/package.json': { name: 'app' },
    ...componentPackage(`app/node_modules/${component}`, { framework: 'demo', component: 'wide', api: '^1' }, COMPONENT),
  });
}

describe('trust: component packages', () => {
  it('refuses a package folder every user can write, with the reason, and takes it with mca_base_trust=any', async () => {
    const root = appWith('mca-demo-wide');
    chmodSync(join(root, 'app/node_modules/mca-demo-wide'), 0o777);
    const { fw, mca } = await demo(root);
    expect(fw.record('wide')).toMatchObject({ status: 'skipped', imported: false });
    expect(fw.record('wide')!.reason).toMatch(/^refused: .*mca-demo-wide is writable by every user \(mode 0777\) \(mca_base_trust widens this\)$/);
    expect(mca.discover().refused.map((c) => c.packageName)).toEqual(['mca-demo-wide']);
    const trusted = await demo(root, { commandLine: [['mca_base_trust', 'any']] });
    expect(trusted.fw.record('wide')!.status).toBe('registered');
  });

  it('takes a package in a folder every user can write when that folder is sticky (as /tmp): nobody else can swap it', async () => {
    const root = appWith('mca-demo-sticky');
    chmodSync(join(root, 'app/node_modules'), 0o1777);
    expect((await demo(root)).fw.record('wide')!.status).toBe('registered');
    // Sticky or not, the package folder itself is still checked.
    chmodSync(join(root, 'app/node_modules/mca-demo-sticky'), 0o1777);
    expect((await demo(root)).fw.record('wide')!.reason).toMatch(/mca-demo-sticky is writable by every user \(mode 1777\)/);
  });

  it.skipIf(!IS_ROOT)('refuses a package owned by another user, taken when mca_base_trust names that user (root: chown)', async () => {
    const root = appWith('mca-demo-theirs');
    chownSync(join(root, 'app/node_modules/mca-demo-theirs/index.js'), OTHER_UID, OTHER_UID);
    const { fw } = await demo(root);
    expect(fw.record('wide')!.reason).toMatch(/index\.js is owned by (nobody \()?uid 65534\)?, not by you/);
    expect((await demo(root, { commandLine: [['mca_base_trust', String(OTHER_UID)]] })).fw.record('wide')!.status).toBe('registered');
  });

  it('refuses a package when a module its entry may import is writable by others, however deep, its node_modules too', async () => {
    for (const lib of ['lib/deep/helper.js', 'node_modules/dep/index.cjs', 'native.node']) {
      const root = appWith('mca-demo-lib');
      const file = join(root, 'app/node_modules/mca-demo-lib', lib);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, '');
      chmodSync(file, 0o666);
      expect((await demo(root)).fw.record('wide')!.reason).toBe(
        `refused: ${file} is writable by every user (mode 0666) (mca_base_trust widens this)`,
      );
    }
    // Other files (documentation, sources for a build) are not code Node loads.
    const root = appWith('mca-demo-lib');
    writeFileSync(join(root, 'app/node_modules/mca-demo-lib/README.md'), '');
    chmodSync(join(root, 'app/node_modules/mca-demo-lib/README.md'), 0o666);
    expect((await demo(root)).fw.record('wide')!.status).toBe('registered');
  });

  it('refuses a package whose entry sits in a folder others can write, outside the package or in it', async () => {
    const root = tree({
      'app/package.json': { name: 'app' },
      'shared/wide.js': COMPONENT,
      ...componentPackage('app/node_modules/mca-demo-outside', { framework: 'demo', component: 'wide', api: '^1' }, COMPONENT),
    });
    const pkg = join(root, 'app/node_modules/mca-demo-outside/package.json');
    const manifest = JSON.parse(readFileSync(pkg, 'utf8'));
    writeFileSync(pkg, JSON.stringify({ ...manifest, main: '../../../shared/wide.js' }));
    chmodSync(join(root, 'shared'), 0o777);
    const { fw } = await demo(root);
    expect(fw.record('wide')!.reason).toMatch(/^refused: .*shared is writable by every user \(mode 0777\)/);
  });

  it('rejects a trust entry that is neither a word, a uid nor a user', async () => {
    const root = appWith('mca-demo-ok');
    const { mca } = await demo(root, { commandLine: [['mca_base_trust', 'no-such-user-here']] });
    expect(() => mca.checkParams()).toThrow(/'no-such-user-here' is not 'any', 'group', a uid or a user name/);
  });
});

describe('trust: project config', () => {
  it('stops the config search at the project root: a config above a folder without package.json is not applied', async () => {
    const root = tree({ '.switchyardrc.json': '{ "t_above": "applied" }', 'sub/.keep': '' });
    const mca = await Mca.load(isolated(join(root, 'sub')));
    expect(mca.files.projectConfig).toBeUndefined();
    // Inside a project (its package.json above), the same file is the project's own.
    const project = tree({ 'package.json': { name: 'p' }, '.switchyardrc.json': '{ "t_above": "applied" }', 'sub/.keep': '' });
    expect((await Mca.load(isolated(join(project, 'sub')))).files.projectConfig).toBe(join(project, '.switchyardrc.json'));
  });

  it('stops at a version-control root too', async () => {
    const root = tree({ '.switchyardrc.json': '{}', 'repo/.git/HEAD': 'ref: refs/heads/main\n', 'repo/sub/.keep': '' });
    expect((await Mca.load(isolated(join(root, 'repo/sub')))).files.projectConfig).toBeUndefined();
  });

  it('refuses to run an executable config others can write, naming the file and why; nothing of it runs', async () => {
    const config = `import { writeFileSync } from 'node:fs';\nwriteFileSync(new URL('./ran', import.meta.url), 'x');\nexport default {};\n`;
    const root = tree({ 'package.json': { name: 'p' }, 'switchyard.config.mjs': config });
    chmodSync(join(root, 'switchyard.config.mjs'), 0o666);
    const error = await Mca.load(isolated(root)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McaConfigError);
    const issue = (error as McaConfigError).issues[0]!;
    expect(issue).toBeInstanceOf(UntrustedFileIssue);
    expect((issue as UntrustedFileIssue).code).toBe('ERR_SWITCHYARD_UNTRUSTED_FILE');
    expect(issue.location.file).toBe(join(root, 'switchyard.config.mjs'));
    expect(issue.message).toMatch(/refused to run this project config: .* is writable by every user \(mode 0666\)/);
    expect(existsSync(join(root, 'ran'))).toBe(false);
    // Widened from a source read before the config (never from the config itself), it runs.
    await Mca.load(isolated(root, { env: { SWITCHYARD_MCA_mca_base_trust: 'any' } }));
    expect(existsSync(join(root, 'ran'))).toBe(true);
  });

  it('refuses a parameter file others can write, found or named by mca_param_files: it could widen trust itself', async () => {
    const root = tree({
      'package.json': { name: 'p' },
      'mca-params.conf': 'mca_base_trust = any\n',
      'named.conf': 'mca_base_trust = any\n',
      'src/deep/.keep': '',
    });
    for (const f of ['mca-params.conf', 'named.conf']) chmodSync(join(root, f), 0o666);
    for (const extra of [{}, { commandLine: [['mca_param_files', join(root, 'named.conf')] as [string, string]] }]) {
      const error = await Mca.load(isolated(root, extra)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(McaConfigError);
      expect((error as McaConfigError).issues[0]!.message).toMatch(/refused to read this parameter file: .* is writable by every user \(mode 0666\)/);
    }
    // The project's own file is the project's from its subfolders too.
    const deep = await Mca.load(isolated(root, { cwd: join(root, 'src/deep') })).catch((e: unknown) => e);
    expect((deep as McaConfigError).issues[0]!.message).toMatch(/mca-params\.conf is writable by every user/);
    chmodSync(join(root, 'mca-params.conf'), 0o644);
    expect((await Mca.load(isolated(root, { cwd: join(root, 'src/deep') }))).files.paramFiles).toEqual([join(root, 'mca-params.conf')]);
  });

  it('refuses the user and system parameter files, or their folders, when others can write them: they could widen trust', async () => {
    const root = tree({
      'package.json': { name: 'p' },
      'home/.switchyard/mca-params.conf': 'mca_base_trust = any\n',
      'etc/mca-params.conf': 'mca_component_path = /somewhere\n',
    });
    const refusal = async (): Promise<string[]> => {
      const error = await Mca.load(isolated(root)).catch((e: unknown) => e);
      return error instanceof McaConfigError ? error.issues.map((i) => i.message) : [];
    };
    expect(await refusal()).toEqual([]);
    chmodSync(join(root, 'home/.switchyard/mca-params.conf'), 0o666);
    expect(await refusal()).toEqual([expect.stringMatching(/refused to read this parameter file: .*home\/\.switchyard\/mca-params\.conf is writable by every user \(mode 0666\)/)]);
    chmodSync(join(root, 'home/.switchyard/mca-params.conf'), 0o644);
    chmodSync(join(root, 'etc'), 0o777);
    expect(await refusal()).toEqual([expect.stringMatching(/refused to read this parameter file: .*\/etc is writable by every user \(mode 0777\)/)]);
    chmodSync(join(root, 'etc'), 0o755);
    // Widened from the environment, it is read.
    await Mca.load(isolated(root, { env: { SWITCHYARD_MCA_mca_base_trust: 'any' } }));
  });

  it("checks the project's own mca-params.conf with its folder, as the project config", async () => {
    const root = tree({ 'package.json': { name: 'p' }, 'mca-params.conf': 'btl = self\n' });
    chmodSync(root, 0o777);
    const error = await Mca.load(isolated(root)).catch((e: unknown) => e);
    expect((error as McaConfigError).issues[0]!.message).toMatch(/refused to read this parameter file: .* is writable by every user \(mode 0777\)/);
    chmodSync(root, 0o755);
  });

  it.skipIf(!IS_ROOT)('follows no symbolic link another user owns to a parameter file (root: lchown)', async () => {
    const root = tree({ 'package.json': { name: 'p' }, 'target.conf': 'btl = self\n' });
    symlinkSync(join(root, 'target.conf'), join(root, 'mca-params.conf'));
    lchownSync(join(root, 'mca-params.conf'), OTHER_UID, OTHER_UID);
    const error = await Mca.load(isolated(root)).catch((e: unknown) => e);
    expect((error as McaConfigError).issues[0]!.message).toMatch(/mca-params\.conf is a symbolic link owned by (nobody \()?uid 65534\)?, not by you/);
  });

  it('names the file a link leads to when that file fails the check, and the link', async () => {
    const root = tree({ 'package.json': { name: 'p' }, 'shared/target.conf': 'btl = self\n' });
    chmodSync(join(root, 'shared/target.conf'), 0o666);
    symlinkSync(join(root, 'shared/target.conf'), join(root, 'mca-params.conf'));
    const error = await Mca.load(isolated(root)).catch((e: unknown) => e);
    expect((error as McaConfigError).issues[0]!.message).toContain(
      `${join(root, 'shared/target.conf')} (where the link ${join(root, 'mca-params.conf')} points) is writable by every user (mode 0666)`,
    );
  });

  it.skipIf(!IS_ROOT)("takes no project marker another user planted above: the project stays the user's own (root: chown)", async () => {
    // A shared folder (as /tmp/shared, 1777) above a private job folder without a package.json.
    const root = tree({ 'shared/job/.keep': '', 'shared/package.json': { name: 'x' }, 'shared/.switchyardrc.json': '{ "btl": "self" }' });
    chmodSync(join(root, 'shared'), 0o1777);
    for (const f of ['package.json', '.switchyardrc.json']) chownSync(join(root, 'shared', f), OTHER_UID, OTHER_UID);
    mkdirSync(join(root, 'shared/.git'));
    chownSync(join(root, 'shared/.git'), OTHER_UID, OTHER_UID);
    const mca = await Mca.load(isolated(join(root, 'shared/job')));
    expect(mca.files.projectConfig).toBeUndefined();
    expect(findProjectRoot(join(root, 'shared/job'))).toBe(join(root, 'shared/job'));
    // The same marker of the user's own is the project's.
    chownSync(join(root, 'shared/package.json'), 0, 0);
    expect(findProjectRoot(join(root, 'shared/job'))).toBe(join(root, 'shared'));
    chmodSync(join(root, 'shared'), 0o755);
  });

  it.skipIf(!IS_ROOT)('refuses a JSON config owned by another user (needs root to chown)', async () => {
    const root = tree({ 'package.json': { name: 'p' }, '.switchyardrc.json': '{ "btl": "self" }' });
    chownSync(join(root, '.switchyardrc.json'), OTHER_UID, OTHER_UID);
    await expect(Mca.load(isolated(root))).rejects.toThrow(/refused to read this project config: .*\.switchyardrc\.json is owned by/);
  });
});

describe('a helper package the project uses (typescript for a .ts config, tsx for a .ts script)', () => {
  const plant = (folder: string) => {
    mkdirSync(join(folder, 'node_modules/helper'), { recursive: true });
    writeFileSync(join(folder, 'node_modules/helper/package.json'), JSON.stringify({ name: 'helper', main: 'index.js' }));
    writeFileSync(join(folder, 'node_modules/helper/index.js'), 'module.exports = 1;\n');
    return join(folder, 'node_modules/helper/index.js');
  };

  it('is never taken from a folder above the project, where Node would find it', () => {
    const outer = tree({ 'app/package.json': { name: 'app' }, 'app/config.ts': '' });
    plant(outer);
    const app = join(outer, 'app');
    expect(resolveTrustedPackage('helper', [join(app, 'config.ts')], [app], STRICT_TRUST)).toBeUndefined();
    // Node caches a lookup: a second project, with its own.
    const other = tree({ 'app/package.json': { name: 'app' }, 'app/config.ts': '' });
    plant(other);
    const own = plant(join(other, 'app'));
    expect(resolveTrustedPackage('helper', [join(other, 'app/config.ts')], [join(other, 'app')], STRICT_TRUST)).toEqual({
      file: own,
      dir: join(other, 'app/node_modules/helper'),
    });
  });

  it('is refused inside the project when others can change it', () => {
    const app = tree({ 'package.json': { name: 'app' }, 'config.ts': '' });
    const entry = plant(app);
    chmodSync(entry, 0o666);
    expect(resolveTrustedPackage('helper', [join(app, 'config.ts')], [app], STRICT_TRUST)).toEqual({
      refused: expect.stringContaining(`${entry} is writable by every user`),
    });
  });
});
