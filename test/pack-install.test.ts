// The packages as users get them: every workspace package packed (`npm pack`, which builds it
// through prepack), the tarballs installed into an application outside the checkout, and the
// `switchyard` command run there. Third-party dependencies come from this machine's npm cache.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, ROOT } from './helpers/run-job.js';

const scratch = mkdtempSync(join(tmpdir(), 'sy-pack-'));
const tarballs = join(scratch, 'tarballs');
const app = join(scratch, 'app');
// Jobs and their records in a folder of this test's own: other tests' jobs are not seen.
const env: NodeJS.ProcessEnv = {
  ...process.env,
  TMPDIR: join(scratch, 'tmp'),
  XDG_STATE_HOME: join(scratch, 'state'),
  npm_config_update_notifier: 'false',
};
// Not installed: the benchmarks (`switchyard bench` must say how to get them) and the conformance kit.
const LEFT_OUT = ['switchyard-bench-', 'switchyard-btl-conformance-'];
let job: ChildProcess | undefined;

function run(file: string, args: string[], cwd: string, timeout = 120_000) {
  const r = spawnSync(file, args, { cwd, env, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** `npx --no-install`: the application's own bin, never the unrelated `switchyard` on the registry. */
const switchyard = (...args: string[]) => run('npx', ['--no-install', 'switchyard', ...args], app);

beforeAll(() => {
  for (const dir of [tarballs, app, env.TMPDIR!, env.XDG_STATE_HOME!]) mkdirSync(dir, { recursive: true });
  const packed = run('npm', ['pack', '--workspaces', '--pack-destination', tarballs, '--silent'], ROOT, 600_000);
  expect(packed.code, packed.stderr).toBe(0);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'sy-pack-app', version: '1.0.0', private: true, type: 'module' }));
  writeFileSync(
    join(app, 'app.mjs'),
    `import { init, SUM } from '@switchyard/mpi';
const world = await init();
const sum = await world.allreduce(new Float64Array([world.rank + 1]), SUM);
console.log(\`rank \${world.rank} of \${world.size}: sum \${sum[0]}\`);
await world.finalize();
`,
  );
  // Keeps the job running until STOP appears, for 'switchyard ctl status'.
  writeFileSync(
    join(app, 'wait.mjs'),
    `import { existsSync } from 'node:fs';
import { init } from '@switchyard/mpi';
const world = await init();
if (world.rank === 0) console.log('ready');
while (!existsSync('STOP')) await new Promise((r) => setTimeout(r, 50));
await world.finalize();
`,
  );
  writeFileSync(join(app, 'typed.ts'), `const n: number = 1;\nconsole.log(n);\n`);
  const files = readdirSync(tarballs).filter((f) => f.endsWith('.tgz') && !LEFT_OUT.some((p) => f.startsWith(p)));
  // --ignore-scripts: the native addons (pmix, verbs) would be compiled; a job on this machine
  // needs neither, and both report themselves unavailable without their build.
  const installed = run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', ...files.map((f) => join(tarballs, f))],
    app,
    600_000,
  );
  expect(installed.code, installed.stderr).toBe(0);
}, 900_000);

afterAll(() => {
  if (existsSync(app)) writeFileSync(join(app, 'STOP'), '');
  if (job?.pid && alive(job.pid)) process.kill(-job.pid, 'SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

describe('the packed packages installed in an application outside the checkout', () => {
  it('packs every workspace package with its build, README and LICENSE', () => {
    const names = readdirSync(tarballs);
    const workspaces = readdirSync(join(ROOT, 'packages')).filter((d) => existsSync(join(ROOT, 'packages', d, 'package.json')));
    expect(names).toHaveLength(workspaces.length);
    for (const dep of ['mpi', 'control', 'runtime']) {
      const dir = join(app, 'node_modules', '@switchyard', dep);
      expect(existsSync(join(dir, 'dist', 'index.js')), dep).toBe(true);
      expect(existsSync(join(dir, 'README.md')), dep).toBe(true);
      expect(existsSync(join(dir, 'LICENSE')), dep).toBe(true);
    }
    // A build-only tool is not a production dependency.
    expect(existsSync(join(app, 'node_modules', 'tsx'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'esbuild'))).toBe(false);
  });

  it('runs a 2-rank job with npx switchyard run', () => {
    const r = switchyard('run', '-n', '2', 'app.mjs');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').sort().filter(Boolean)).toEqual(['rank 0 of 2: sum 3', 'rank 1 of 2: sum 3']);
  });

  it('lists the installed transports with npx switchyard info', () => {
    const r = switchyard('info', '--parsable');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/btl:tcp/);
    expect(r.stdout).toMatch(/btl:self/);
  });

  it('answers npx switchyard ctl status for a running job', async () => {
    job = spawn('npx', ['--no-install', 'switchyard', 'run', '-n', '2', 'wait.mjs'], {
      cwd: app,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    job.stdout!.on('data', (d) => (out += d));
    const closed = new Promise<number | null>((resolve) => job!.on('close', resolve));
    while (!out.includes('ready')) {
      if (job.exitCode !== null) throw new Error(`the job ended early: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const status = switchyard('ctl', 'status', '--json');
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).ranks).toHaveLength(2);
    writeFileSync(join(app, 'STOP'), '');
    expect(await closed).toBe(0);
  }, 120_000);

  it("finds the transports in an isolated install (npm's --install-strategy=linked, as pnpm lays packages out)", () => {
    // Each package sees only its own dependencies beside it: the transports sit next to @switchyard/mpi.
    const linked = join(scratch, 'linked');
    mkdirSync(linked);
    // The application depends on @switchyard/mpi alone; the other packages come from their tarballs too.
    const tarball = (name: string) => `file:${join(tarballs, readdirSync(tarballs).find((f) => f.startsWith(`switchyard-${name}-`))!)}`;
    const others = readdirSync(tarballs).flatMap((f) => /^switchyard-(.+)-\d+\.\d+\.\d+\.tgz$/.exec(f)?.[1] ?? []).filter((n) => n !== 'mpi');
    const manifest = {
      name: 'sy-linked-app',
      version: '1.0.0',
      private: true,
      type: 'module',
      dependencies: { '@switchyard/mpi': tarball('mpi') },
      overrides: Object.fromEntries(others.map((n) => [`@switchyard/${n}`, tarball(n)])),
    };
    writeFileSync(join(linked, 'package.json'), JSON.stringify(manifest));
    writeFileSync(join(linked, 'app.mjs'), readFileSync(join(app, 'app.mjs')));
    const args = ['install', '--install-strategy=linked', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'];
    const installed = run('npm', args, linked, 600_000);
    expect(installed.code, installed.stderr).toBe(0);
    expect(readdirSync(join(linked, 'node_modules', '@switchyard'))).toEqual(['mpi']);
    const r = run('npx', ['--no-install', 'switchyard', 'run', '-n', '2', 'app.mjs'], linked);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').sort().filter(Boolean)).toEqual(['rank 0 of 2: sum 3', 'rank 1 of 2: sum 3']);
    const info = run('npx', ['--no-install', 'switchyard', 'info', '--json'], linked);
    const btl = (JSON.parse(info.stdout).frameworks as Array<{ name: string; components: Array<{ name: string; via: string }> }>)
      .find((f) => f.name === 'btl')!;
    expect(btl.components.map((c) => `${c.name} ${c.via}`).sort()).toEqual(
      ['openib installation', 'self installation', 'sm installation', 'tcp installation'],
    );
  }, 600_000);

  it('says how to get the benchmarks when @switchyard/bench is not installed', () => {
    const r = switchyard('bench', '--help');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('@switchyard/bench');
    expect(r.stderr).toContain('npm install');
  });

  it('says a TypeScript rank script needs tsx when it is not installed, starting nothing', () => {
    const r = switchyard('run', '-n', '1', 'typed.ts');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('tsx is not installed');
    expect(readFileSync(join(app, 'package.json'), 'utf8')).not.toContain('tsx');
  });

  it('refuses a tsx in the project that every user may write, as it refuses such a component, starting nothing', () => {
    const fakeTsx = join(app, 'node_modules', 'tsx');
    mkdirSync(fakeTsx, { recursive: true });
    writeFileSync(join(fakeTsx, 'package.json'), JSON.stringify({ name: 'tsx', version: '4.99.0', main: 'index.js' }));
    writeFileSync(join(fakeTsx, 'index.js'), `require('node:fs').writeFileSync(${JSON.stringify(join(scratch, 'tsx-ran'))}, '');\n`);
    chmodSync(join(fakeTsx, 'index.js'), 0o666);
    try {
      const r = switchyard('run', '-n', '1', 'typed.ts');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/typed\.ts is TypeScript, which ranks run through tsx, and the tsx found is refused: .*index\.js is writable by every user/);
      expect(existsSync(join(scratch, 'tsx-ran'))).toBe(false);
    } finally {
      rmSync(fakeTsx, { recursive: true, force: true });
    }
  });

  it("never takes tsx from above the script's project (a checkout without a package.json inside a folder with one)", () => {
    // scratch/ is a project with a tsx that leaves a mark; scratch/checkout/ is a git checkout of its own.
    const checkout = join(scratch, 'checkout');
    const fakeTsx = join(scratch, 'node_modules', 'tsx');
    mkdirSync(join(checkout, '.git'), { recursive: true });
    mkdirSync(fakeTsx, { recursive: true });
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'outer', version: '1.0.0', private: true }));
    writeFileSync(join(fakeTsx, 'package.json'), JSON.stringify({ name: 'tsx', version: '4.99.0', main: 'index.js' }));
    writeFileSync(join(fakeTsx, 'index.js'), `require('node:fs').writeFileSync(${JSON.stringify(join(scratch, 'tsx-ran'))}, '');\n`);
    writeFileSync(join(checkout, 'typed.ts'), `const n: number = 1;\nconsole.log(n);\n`);
    try {
      const r = switchyard('run', '-n', '1', join(checkout, 'typed.ts'));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('tsx is not installed');
      expect(existsSync(join(scratch, 'tsx-ran'))).toBe(false);
    } finally {
      for (const f of [checkout, join(scratch, 'node_modules'), join(scratch, 'package.json')]) rmSync(f, { recursive: true, force: true });
    }
  });
});
