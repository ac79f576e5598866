import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ctl, startTrafficJob, switchyardRun, type BackgroundJob } from './helpers/ctl.js';
import { alive, FIXTURES, runJob } from './helpers/run-job.js';
import { expectExactlyOnceInOrder, sendLists, verb } from './helpers/traffic-checks.js';

// Bad input, as a user types it, gets one line that says what is wrong and where, and changes
// nothing; a launcher that dies takes its job folder (and the secret in it) with it.
let job: BackgroundJob | undefined;
const dirs: string[] = [];
afterEach(() => {
  job?.kill();
  job = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sy-hygiene-'));
  dirs.push(dir);
  return dir;
}

/** No stack trace: no `    at ` frame lines. */
function expectOneLine(stderr: string, pattern: RegExp): void {
  expect(stderr).toMatch(pattern);
  expect(stderr).not.toMatch(/^\s+at /m);
}

const collectives = join(FIXTURES, 'collectives.mjs');
const TCP = ['--mca', 'btl', 'tcp,self'];
const root = process.getuid!() === 0;

function plantForeign(dir: string): void {
  mkdirSync(dir, { mode: 0o700 });
  if (root) chownSync(dir, 65534, 65534);
  else chmodSync(dir, 0o777);
}

describe('bad parameters are refused with one line naming parameter and source', () => {
  it.each([
    [
      '--mca',
      [...TCP, '--mca', 'btl_tcp_port_min', '-0x10'],
      {},
      /'btl_tcp_port_min' \(type integer\) from command line: must be at least 0, got -16/,
    ],
    [
      'the environment',
      TCP,
      { SWITCHYARD_MCA_btl_tcp_port_min: '-0x10' },
      /environment \(SWITCHYARD_MCA_btl_tcp_port_min\): must be at least 0, got -16/,
    ],
    [
      'an empty btl',
      ['--mca', 'btl', ''],
      {},
      /'btl' \(type list\) from command line: must not be empty: to use every available btl component/,
    ],
    [
      'a misspelt btl',
      ['--mca', 'btl', 'tcp,slef'],
      {},
      /^switchyard run: --mca btl: btl component 'slef' was requested \(btl=tcp,slef\) but was not found\. Available btl components: .*self/m,
    ],
    [
      '--mca, two values that exclude each other',
      [...TCP, '--mca', 'btl_tcp_if_include', 'lo', '--mca', 'btl_tcp_if_exclude', 'eth0'],
      {},
      /^switchyard run: btl component 'tcp' cannot be used with these values \(btl_tcp_if_include from --mca, btl_tcp_if_exclude from --mca\): .* are mutually exclusive/m,
    ],
    [
      'the environment',
      [],
      { SWITCHYARD_MCA_btl: 'tcp,self,tpc' },
      /btl from environment \(SWITCHYARD_MCA_btl\): btl component 'tpc' was requested \(btl=tcp,self,tpc\) but was not found/,
    ],
  ])('signed hex, empty and misspelt selections, and values that exclude each other, from %s', async (from, mca, env, message) => {
    const out = await runJob(['-n', '2', ...mca, collectives], { env });
    expectOneLine(out.stderr, message);
    // Refused before any rank starts: the launcher's command line is a usage error, the
    // environment a configuration error.
    expect(out.code).toBe(from === 'the environment' ? 1 : 2);
    expect(out.stderr).not.toMatch(/rank \d/);
    if (from === 'the environment') expect(out.stderr).toMatch(/^switchyard run: invalid MCA configuration, no rank started: /);
  }, 60_000);

  it('from a params file and a project config, with file and line', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'package.json'), '{ "name": "app" }\n');
    writeFileSync(join(dir, 'mca-params.conf'), '# tcp only\nbtl = \n');
    const out = await runJob(['-n', '1', '--mca', 'mca_param_files', join(dir, 'mca-params.conf'), collectives], { cwd: dir });
    expect(out.code).toBe(1);
    const where = `${join(dir, 'mca-params.conf')}:2: MCA parameter 'btl'`;
    expectOneLine(out.stderr, new RegExp(`${where} \\(type list\\) from params file: must not be empty`));
    expect(out.stderr).toMatch(/no rank started/);

    // A component the file selects that is not installed: the file's line, before any rank starts.
    writeFileSync(join(dir, 'mca-params.conf'), '# tcp only\nbtl = tcp,self,tpc\n');
    const missing = await runJob(['-n', '2', '--mca', 'mca_param_files', join(dir, 'mca-params.conf'), collectives], { cwd: dir });
    expect(missing.code).toBe(1);
    expectOneLine(missing.stderr, new RegExp(`no rank started: ${join(dir, 'mca-params.conf')}:2: btl component 'tpc' was requested`));
    expect(missing.stderr).not.toMatch(/rank \d/);
    // Excluding a name that is no component is allowed (Open MPI ignores it) but warned about.
    writeFileSync(join(dir, 'mca-params.conf'), '# tcp only\nbtl = ^tpc\n');
    const excluded = await runJob(['-n', '1', '--mca', 'mca_param_files', join(dir, 'mca-params.conf'), collectives], { cwd: dir });
    expect(excluded.code).toBe(0);
    const warning = `warning: ${join(dir, 'mca-params.conf')}:2: 'tpc' in btl=^tpc is not a btl component here, so it excludes nothing`;
    expect(excluded.stderr).toContain(warning);

    writeFileSync(join(dir, '.switchyardrc.yaml'), 'btl_tcp_nodelay: true\nbtl: tcp,self\n  btl_tcp_eager_limit: 64k\n');
    const yaml = await runJob(['-n', '1', collectives], { cwd: dir });
    expect(yaml.code).toBe(1);
    expectOneLine(yaml.stderr, new RegExp(`${join(dir, '.switchyardrc.yaml')}:3:3: invalid YAML: unexpected indentation`));
    rmSync(join(dir, '.switchyardrc.yaml'));
    writeFileSync(join(dir, '.switchyardrc.json'), '{\n  "btl_tcp_nodelay": tru,\n  "btl": "tcp,self"\n}\n');
    const json = await runJob(['-n', '1', collectives], { cwd: dir });
    expect(json.code).toBe(1);
    expectOneLine(json.stderr, new RegExp(`${join(dir, '.switchyardrc.json')}:2:25: invalid JSON`));
  }, 60_000);

  it('a singleton (plain node) that cannot initialise exits 1 with one line; with a *_verbose parameter, the stack too', () => {
    const env = { ...process.env, SWITCHYARD_MCA_btl: 'nosuch' };
    const plain = spawnSync(process.execPath, [collectives], { cwd: FIXTURES, env, encoding: 'utf8', timeout: 30_000 });
    expect(plain.status).toBe(1);
    expectOneLine(plain.stderr, /^switchyard: rank 0 could not initialise: btl component 'nosuch' was requested/);
    const verboseEnv = { ...env, SWITCHYARD_MCA_mca_base_verbose: '1' };
    const verbose = spawnSync(process.execPath, [collectives], { cwd: FIXTURES, env: verboseEnv, encoding: 'utf8', timeout: 30_000 });
    expect(verbose.status).toBe(1);
    expect(verbose.stderr).toMatch(/^\s+at /m);
  });

  it('ctl apply refuses -0x800 for an exclusivity and changes nothing; the job completes', async () => {
    job = await startTrafficJob(['-n', '2', '--mca', 'btl', 'tcp,self']);
    const before = await sendLists(job.jobId);
    const apply = await ctl(['--job', job.jobId, 'apply', '--mca', 'btl_tcp_exclusivity', '-0x800']);
    expect(apply.code).toBe(1);
    expectOneLine(apply.stderr, /btl_tcp_exclusivity.*-2048/);
    expect(await sendLists(job.jobId)).toEqual(before);
    const empty = await ctl(['--job', job.jobId, 'apply', '--mca', 'btl', '']);
    expect(empty.code).toBe(1);
    expectOneLine(empty.stderr, /must not be empty/);
    expect(await sendLists(job.jobId)).toEqual(before);
    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 2);
  }, 120_000);
});

/** Soft verbs socket files (device and management) of these pids, in this user's runtime folder. */
function softVerbsSocketsOf(pids: number[]): string[] {
  const runtime = join(tmpdir(), `switchyard-${process.getuid!()}`);
  const owners = new Set(pids.map((pid) => pid.toString(16).padStart(8, '0')));
  return (existsSync(runtime) ? readdirSync(runtime) : [])
    .filter((d) => d.startsWith('soft-verbs-'))
    .flatMap((d) => readdirSync(join(runtime, d)).map((f) => join(runtime, d, f)))
    .filter((f) => owners.has(basename(f).slice(0, 8)));
}

describe('the per-user job folder', () => {
  it.each([
    // ctl jobs has nothing to list in a file: it says no job runs.
    [
      'is a file',
      (root: string) => writeFileSync(root, ''),
      /exists and is not a directory \(a file of uid \d+\); refusing to use it \(set TMPDIR to a folder of your own to work elsewhere\)/,
      false,
    ],
    ['is writable by everyone', (dir: string) => (mkdirSync(dir), chmodSync(dir, 0o777)), /writable by other users \(mode 777\)/, true],
    [
      'belongs to another user',
      plantForeign,
      root ? /belongs to uid 65534, not to this user \(uid 0\); refusing/ : /writable by other users/,
      true,
    ],
  ])('is refused with one line when it %s, by run and by ctl jobs', async (_what, plant, message, ctlRefuses) => {
    const tmp = scratch();
    plant(join(tmp, `switchyard-${process.getuid!()}`));
    const run = await runJob(['-n', '1', collectives], { env: { TMPDIR: tmp } });
    expect(run.code).toBe(1);
    expectOneLine(run.stderr, message);
    const jobs = await ctl(['jobs'], 30_000, { TMPDIR: tmp });
    expect(jobs.code).toBe(ctlRefuses ? 1 : 0);
    if (ctlRefuses) expectOneLine(jobs.stderr, message);
  }, 60_000);

  it('refuses the records folder of mpirun and srun jobs when others can write it: ctl jobs lists nothing planted there', async () => {
    const tmp = scratch();
    const records = join(tmp, 'state', 'switchyard', 'jobs');
    mkdirSync(records, { recursive: true });
    chmodSync(records, 0o777);
    const planted = {
      jobId: 'planted', size: 8, controller: '127.0.0.1:9', addresses: ['127.0.0.1:9'], secret: 's', pid: 1, host: 'vm',
      started: '2026-01-02T00:00:00Z', script: '/root/real-looking.mjs', args: [], cwd: '/root', launcher: 'pmix',
    };
    writeFileSync(join(records, 'planted.json'), JSON.stringify(planted));
    const jobs = await ctl(['jobs'], 30_000, { TMPDIR: tmp, XDG_STATE_HOME: join(tmp, 'state') });
    expect(jobs.code).toBe(1);
    expectOneLine(jobs.stderr, /jobs is writable by other users \(mode 777\); refusing to use it/);
    expect(jobs.stdout).not.toContain('planted');
  }, 30_000);

  it('is removed by the ranks when the launcher is SIGKILLed, with their soft verbs sockets, and a stale one by ctl jobs', async () => {
    job = await startTrafficJob(['-n', '2', '--mca', 'btl', 'tcp,self,openib', '--mca', 'btl_openib_provider', 'soft']);
    const ranks: number[] = (await verb(job.jobId, 'status')).ranks.map((r: { pid: number }) => r.pid);
    const [record] = (await ctl(['jobs', '--json'])).json.filter((j: { jobId: string }) => j.jobId === job!.jobId);
    expect(existsSync(record.jobDir)).toBe(true);
    process.kill(job.child.pid!, 'SIGKILL');
    const deadline = Date.now() + 20_000;
    while ((ranks.some(alive) || existsSync(record.jobDir)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(ranks.filter(alive)).toEqual([]);
    expect(existsSync(record.jobDir)).toBe(false);
    // They ended through process.exit, which closes no server: their device sockets go at exit.
    expect(softVerbsSocketsOf(ranks)).toEqual([]);

    // What a launcher killed with its ranks (kill -9 of the whole group) leaves: a folder nobody removed.
    const stale = join(record.jobDir, '..', 'job-stale-hygiene-test');
    mkdirSync(stale, { mode: 0o700 });
    const socketPath = join(stale, 'hnp.sock');
    const planted = { ...record, jobId: 'stale-hygiene-test', jobDir: stale, socketPath, pid: job.child.pid, secret: 's' };
    writeFileSync(join(stale, 'job.json'), JSON.stringify(planted), { mode: 0o600 });
    const jobs = await ctl(['jobs', '--json']);
    expect(jobs.code).toBe(0);
    expect(jobs.json.map((j: { jobId: string }) => j.jobId)).not.toContain('stale-hygiene-test');
    expect(existsSync(stale)).toBe(false);
  }, 120_000);

  it('is removed by the ranks when the launcher was SIGKILLed before they reached it', async () => {
    const dir = scratch();
    const launcher = switchyardRun(['-n', '2', '--mca', 'btl', 'tcp,self'])(['late-init.mjs', dir]);
    try {
      const started = () => readdirSync(dir).filter((f) => f.startsWith('started.'));
      const deadline = Date.now() + 30_000;
      while (started().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const ranks = started().map((f) => Number(f.slice('started.'.length)));
      expect(ranks).toHaveLength(2);
      const [record] = (await ctl(['jobs', '--json'])).json.filter((j: { pid: number }) => j.pid === launcher.pid);
      expect(existsSync(record.jobDir)).toBe(true);
      process.kill(launcher.pid!, 'SIGKILL');
      writeFileSync(join(dir, 'go'), '');
      const ended = Date.now() + 20_000;
      while ((ranks.some(alive) || existsSync(record.jobDir)) && Date.now() < ended) await new Promise((r) => setTimeout(r, 50));
      expect(ranks.filter(alive)).toEqual([]);
      expect(existsSync(record.jobDir)).toBe(false);
    } finally {
      try {
        process.kill(-launcher.pid!, 'SIGKILL');
      } catch {}
    }
  }, 90_000);
});
