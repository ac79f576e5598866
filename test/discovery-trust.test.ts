import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, results, ROOT, runJob } from './helpers/run-job.js';

// Issue 13: discovery reads package.json files and imports only what the selection keeps, in the
// project's own scope; a package or config another user owns or can write is refused. Every case
// plants a component or config the way an attacker would (a folder above the project, /tmp) and
// checks, with real `switchyard run` and `switchyard info` processes, that its code never ran.

const IS_ROOT = process.getuid?.() === 0;
/** Linux's `nobody`: neither the tester nor root. */
const NOBODY = 65534;
const scratch: string[] = [];
afterEach(() => scratch.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A scratch folder with `files`; `marker` is where planted code writes when it runs. */
function folder(files: Record<string, string | object> = {}): { root: string; marker: string } {
  const root = mkdtempSync(join(tmpdir(), 'sy-trust-'));
  scratch.push(root);
  write(root, files);
  return { root, marker: join(root, 'ran') };
}

function write(base: string, files: Record<string, string | object>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(base, path)), { recursive: true });
    writeFileSync(join(base, path), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
}

/** A BTL package whose import appends its name to `marker`: proof that its code ran. */
function plantedBtl(at: string, component: string, marker: string): Record<string, string | object> {
  return {
    [`${at}/package.json`]: {
      name: at.split('/').at(-1),
      version: '1.0.0',
      type: 'module',
      main: 'index.js',
      mca: { framework: 'btl', component, api: '^1.0.0' },
    },
    [`${at}/index.js`]: [
      "import { appendFileSync } from 'node:fs';",
      `appendFileSync(${JSON.stringify(marker)}, '${component} imported\\n');`,
      'export default { init() { return []; } };',
      '',
    ].join('\n'),
  };
}

/** An application script that joins the job and reports its rank. */
const APP = `import { init } from ${JSON.stringify(pathToFileURL(join(ROOT, 'packages/switchyard/dist/index.js')).href)};
const world = await init();
console.log('RESULT ' + JSON.stringify({ rank: world.rank }));
await world.finalize();
`;

/** An executable config that leaves a marker when it runs. */
const CONFIG_RUNS = `import { appendFileSync } from 'node:fs';\nappendFileSync('ran', 'config ran\\n');\nexport default {};\n`;

function info(cwd: string, args: string[] = []) {
  const env = { ...process.env, HOME: cwd };
  const r = spawnSync(process.execPath, [CLI, 'info', ...args], { cwd, encoding: 'utf8', timeout: 60_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function job(cwd: string, mca: string[][]) {
  return runJob(['-n', '2', ...mca.flatMap(([k, v]) => ['--mca', k!, v!]), 'app.mjs'], { cwd, env: { HOME: cwd } });
}

const ran = (marker: string) => (existsSync(marker) ? readFileSync(marker, 'utf8') : '');

type InfoComponent = { name: string; status: string; reason?: string; via: string; path: string };
function btlComponents(stdout: string): InfoComponent[] {
  return JSON.parse(stdout).frameworks.find((f: { name: string }) => f.name === 'btl').components;
}

describe('discovery stays in the project and reads, it does not run', () => {
  for (const withPackageJson of [true, false]) {
    const kind = withPackageJson ? 'with' : 'without';
    it(`ignores a component planted in a parent folder's node_modules (project ${kind} package.json)`, async () => {
      const manifest: Record<string, object> = withPackageJson ? { 'sub/package.json': { name: 'app', private: true } } : {};
      const { root, marker } = folder({ 'sub/app.mjs': APP, ...manifest });
      write(root, plantedBtl('node_modules/evil-btl', 'evil', marker));
      const sub = join(root, 'sub');
      const out = await job(sub, [['btl', 'tcp,self']]);
      expect(out.code, out.stderr).toBe(0);
      expect(results(out.stdout)).toHaveLength(2);
      const listed = info(sub, ['--json']);
      expect(listed.code, listed.stderr).toBe(0);
      const model = JSON.parse(listed.stdout);
      // Why it is not seen: the project is sub, and only its own folders (and the installation's) are searched.
      expect(model.projectRoots).toEqual([sub]);
      expect(model.componentSearch.map((s: { folder: string }) => s.folder)).not.toContain(join(root, 'node_modules'));
      expect(btlComponents(listed.stdout).map((c) => c.name)).not.toContain('evil');
      expect(info(sub).stdout).toContain(`Project root: ${sub}\n`);
      expect(ran(marker)).toBe('');
    });
  }

  it('does not import a component of the project that the selection leaves out, nor one on mca_component_path', async () => {
    const { root, marker } = folder({ 'package.json': { name: 'app', private: true }, 'app.mjs': APP });
    const extra = folder();
    write(root, plantedBtl('node_modules/inproject-btl', 'inproject', marker));
    write(extra.root, plantedBtl('pkgs/onpath-btl', 'onpath', marker));
    const out = await job(root, [['btl', 'tcp,self'], ['mca_component_path', join(extra.root, 'pkgs')]]);
    expect(out.code, out.stderr).toBe(0);
    expect(ran(marker)).toBe('');
    // info lists both from their declarations, importing neither.
    const listed = info(root, ['--json', '--mca', 'mca_component_path', join(extra.root, 'pkgs')]);
    const byName = Object.fromEntries(btlComponents(listed.stdout).map((c) => [c.name, c]));
    expect(byName.inproject).toMatchObject({ status: 'declared', via: 'node_modules' });
    expect(byName.onpath).toMatchObject({ status: 'declared', via: 'component-path' });
    expect(ran(marker)).toBe('');
    // Asked about by name, info imports it to show its parameters.
    expect(info(root, ['--param', 'btl', 'inproject']).code).toBe(0);
    expect(ran(marker)).toBe('inproject imported\n');
  });

  it('refuses a component folder every user can write, saying why, and takes it with mca_base_trust', async () => {
    const { root, marker } = folder({ 'package.json': { name: 'app', private: true }, 'app.mjs': APP });
    write(root, plantedBtl('node_modules/wide-btl', 'wide', marker));
    chmodSync(join(root, 'node_modules/wide-btl'), 0o777);
    const listed = info(root, ['--json']);
    const wide = btlComponents(listed.stdout).find((c) => c.name === 'wide')!;
    expect(wide.status).toBe('skipped');
    const folderPath = join(root, 'node_modules/wide-btl');
    expect(wide.reason).toBe(`refused: ${folderPath} is writable by every user (mode 0777) (mca_base_trust widens this)`);
    expect(info(root).stdout).toMatch(/MCA btl: wide +\(wide-btl v1\.0\.0, API \^1\.0\.0\) skipped: refused: .* is writable by every user/);
    const asked = await job(root, [['btl', 'tcp,self,wide']]);
    expect(asked.code).not.toBe(0);
    expect(asked.stderr).toContain("btl component 'wide' was requested (btl=tcp,self,wide) but cannot be used: refused:");
    expect(ran(marker)).toBe('');
    const trusted = info(root, ['--json', '--param', 'btl', 'wide', '--mca', 'mca_base_trust', 'any']);
    expect(btlComponents(trusted.stdout).find((c) => c.name === 'wide')!.status).not.toBe('skipped');
    expect(ran(marker)).toBe('wide imported\n');
  });

  it.skipIf(!IS_ROOT)('refuses a package owned by another user, taken when mca_base_trust names the user (root: chown)', async () => {
    const { root, marker } = folder({ 'package.json': { name: 'app', private: true }, 'app.mjs': APP });
    write(root, plantedBtl('node_modules/theirs-btl', 'theirs', marker));
    for (const f of ['', 'package.json', 'index.js']) chownSync(join(root, 'node_modules/theirs-btl', f), NOBODY, NOBODY);
    // The default selection would take it: refused, the job runs without it.
    const out = await job(root, [['btl', '^openib']]);
    expect(out.code, out.stderr).toBe(0);
    expect(ran(marker)).toBe('');
    const theirs = btlComponents(info(root, ['--json', '--param', 'btl', 'all']).stdout).find((c) => c.name === 'theirs')!;
    expect(theirs.reason).toMatch(/^refused: .*theirs-btl is owned by (nobody \()?uid 65534\)?, not by you/);
    expect(ran(marker)).toBe('');
    const trusted = info(root, ['--json', '--param', 'btl', 'theirs', '--mca', 'mca_base_trust', String(NOBODY)]);
    expect(btlComponents(trusted.stdout).find((c) => c.name === 'theirs')!.status).not.toBe('skipped');
    expect(ran(marker)).toBe('theirs imported\n');
  });
});

describe('config search stops at the project root; executable config runs only when it is the user\'s', () => {
  it('does not apply a .switchyardrc.json in a parent folder of a project without package.json', async () => {
    // Applied, it would select a transport that does not exist and the job would not start.
    const { root } = folder({ '.switchyardrc.json': '{ "btl": "nosuch" }', 'sub/app.mjs': APP });
    const sub = join(root, 'sub');
    const out = await job(sub, [['btl', '^openib']]);
    expect(out.code, out.stderr).toBe(0);
    expect(info(sub).stdout).toContain('Project config: (none found)');
  });

  it('refuses to run a switchyard.config.mjs others can write, naming the file and why', async () => {
    const { root, marker } = folder({
      'package.json': { name: 'app', private: true },
      'app.mjs': APP,
      'switchyard.config.mjs': CONFIG_RUNS,
    });
    const config = join(root, 'switchyard.config.mjs');
    chmodSync(config, 0o666);
    const out = await job(root, [['btl', 'tcp,self']]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(`${config}: refused to run this project config: ${config} is writable by every user (mode 0666)`);
    const listed = info(root);
    expect(listed.code).toBe(1);
    expect(listed.stderr).toContain(`${config}: refused to run this project config`);
    expect(ran(marker)).toBe('');
  });

  it.skipIf(!IS_ROOT)('refuses a switchyard.config.mjs owned by another user (root: chown)', async () => {
    const { root, marker } = folder({
      'package.json': { name: 'app', private: true },
      'app.mjs': APP,
      'switchyard.config.mjs': CONFIG_RUNS,
    });
    const config = join(root, 'switchyard.config.mjs');
    chownSync(config, NOBODY, NOBODY);
    const out = await job(root, [['btl', 'tcp,self']]);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(new RegExp(`refused to run this project config: ${config.replace(/[.]/g, '\\.')} is owned by (nobody \\()?uid 65534`));
    expect(ran(marker)).toBe('');
  });
});
