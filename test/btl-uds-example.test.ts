import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeConformance } from '@switchyard/btl-conformance';
import { BTL_API_VERSION } from '@switchyard/btl-interface';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startTrafficJob, switchyardRun, type BackgroundJob } from './helpers/ctl.js';
import { CLI, ROOT } from './helpers/run-job.js';
import { expectExactlyOnceInOrder, sendLists, verb } from './helpers/traffic-checks.js';

// A third-party transport as its users meet it: examples/btl-uds is packed with npm and the
// tarball installed into an application's own node_modules (not through the workspace, whose
// packages/* it is not part of); the application selects it in its config file, and a running
// job is switched to it and back.
const PACKAGE = join(ROOT, 'examples/btl-uds');
const APP = join(ROOT, 'examples/app-uds');
const INSTALLED = join(APP, 'node_modules/switchyard-btl-uds');

const scratch = mkdtempSync(join(tmpdir(), 'sy-uds-pack-'));
const leftovers = [
  join(APP, 'node_modules'),
  join(APP, 'package-lock.json'),
  ...(existsSync(join(PACKAGE, 'dist')) ? [] : [join(PACKAGE, 'dist')]),
];

function npm(args: string[], cwd: string): string {
  // Offline: the tarball is a local file and the package's only dependencies are peers
  // (@switchyard/btl-interface, @switchyard/btl-base) the application already reaches; nothing is fetched.
  const r = spawnSync('npm', [...args, '--offline', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed in ${cwd} (${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function switchyard(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: APP,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, HOME: scratch },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const cleanUp = () => {
  for (const path of [scratch, ...leftovers]) rmSync(path, { recursive: true, force: true });
};
afterAll(cleanUp);

// At collection, not in beforeAll: the conformance kit reads the installed package when it
// registers its tests. The application has no dependencies of its own: its node_modules is this
// test's alone.
rmSync(join(APP, 'node_modules'), { recursive: true, force: true });
try {
  // `npm pack` runs the package's prepack script (its build) and prints the tarball's name.
  const tarball = join(scratch, npm(['pack', '--pack-destination', scratch], PACKAGE).trim().split('\n').at(-1)!);
  npm(['install', '--no-save', '--no-package-lock', '--legacy-peer-deps', tarball], APP);
} catch (err) {
  // A file that fails to load runs no hooks: clean up here.
  cleanUp();
  throw err;
}

let job: BackgroundJob | undefined;
afterEach(() => {
  job?.kill();
  job = undefined;
});

describe('a third-party BTL installed from its tarball (examples/btl-uds)', () => {
  it('lands in the application\'s own node_modules as a real install, with only the published files', () => {
    const installed = JSON.parse(readFileSync(join(INSTALLED, 'package.json'), 'utf8'));
    expect(installed).toMatchObject({ name: 'switchyard-btl-uds', mca: { framework: 'btl', component: 'uds', api: '^1.0.0' } });
    expect(existsSync(join(INSTALLED, 'dist/index.js'))).toBe(true);
    expect(existsSync(join(INSTALLED, 'test'))).toBe(false);
  });

  it('reaches peers on its own host only, and logs why another host is unreachable', () => {
    // In a plain Node process, as the launcher's ranks load it (vitest would resolve the
    // workspace's TypeScript sources instead of the published entry points).
    const script = `
      import { existsSync } from 'node:fs';
      import { dirname } from 'node:path';
      import component from 'switchyard-btl-uds';
      const log = [];
      const host = { receive() {}, writable() {}, error() {}, log: (m) => log.push(m) };
      const settings = {
        dir: '', exclusivity: 200, latency: 50, bandwidth: 1, eager_limit: 1024, max_send_size: 4096, high_water_mark: 65536,
        handshake_timeout: 1000,
      };
      const params = { get: (n) => settings[n], fullName: (n) => 'btl_uds_' + n };
      const [module] = await component.init({ jobId: 'j', rank: 0, size: 4, hostname: 'here', secret: 's', params, host, log() {} });
      const mine = module.businessCard;
      const listening = existsSync(mine.path);
      const endpoints = await module.addProcs([
        { rank: 1, hostname: 'here', local: true, cards: [{ ...mine, path: '/tmp/peer.sock' }] },
        { rank: 2, hostname: 'there', local: false, cards: [{ ...mine, hostname: 'there', bootId: 'b0a7' }] },
        { rank: 3, hostname: 'here', local: true, cards: [{ ...mine, bootId: 'another-kernel' }] },
      ]);
      await module.finalize();
      console.log(JSON.stringify({ listening, reached: endpoints.map((e) => e !== undefined), log, left: existsSync(dirname(mine.path)) }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: APP, encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.listening).toBe(true);
    expect(out.reached).toEqual([true, false, false]);
    expect(out.log.join('\n')).toMatch(/rank 2 is unreachable: it runs on another host, there \(boot b0a7\), and this is here.*: Unix domain sockets reach processes of one host only/);
    expect(out.log.join('\n')).toMatch(/rank 3 is unreachable: it runs on another host/);
    expect(out.left).toBe(false);
  });

  it('is listed by switchyard info, found in node_modules, and selected by the config file', () => {
    const { code, stdout } = switchyard(['info']);
    expect(code).toBe(0);
    // Listed from its package.json: info runs a third-party component's code only when asked about it.
    expect(stdout).toMatch(/MCA btl: uds +\(switchyard-btl-uds v0\.1\.0, API \^1\.0\.0\) declared: read from its package\.json/);
    expect(stdout).toContain(`found in ${INSTALLED} (the project's node_modules)`);
    expect(stdout).toContain(`Project config: ${join(APP, 'switchyard.config.json')}`);
    expect(stdout).toContain(`MCA btl: framework, API v${BTL_API_VERSION}, selection btl=uds,tcp,self`);
    const params = switchyard(['info', '--param', 'btl', 'uds', '--level', '9']);
    expect(params.stdout).toMatch(/MCA btl: uds +\(switchyard-btl-uds v0\.1\.0, API \^1\.0\.0\) available/);
    expect(params.stdout).toMatch(/parameter "btl_uds_exclusivity" \(current value: "200", data source: default/);
  });

  it('carries a running job\'s traffic, which moves to tcp and back with switchyard ctl: every message once, in order', async () => {
    job = await startTrafficJob(switchyardRun(['-n', '3'], APP));
    // uds outranks tcp for peers on this host: the configured policy puts the traffic on it.
    expect((await sendLists(job.jobId))[0]).toEqual(['self', 'uds', 'uds']);
    expect(await verb(job.jobId, 'switch', 'tcp')).toMatchObject({ ok: true, outcome: 'done' });
    expect((await sendLists(job.jobId))[0]).toEqual(['self', 'tcp', 'tcp']);
    expect(await verb(job.jobId, 'switch', 'uds')).toMatchObject({ ok: true, outcome: 'done' });
    expect((await sendLists(job.jobId))[1]).toEqual(['uds', 'self', 'uds']);
    await verb(job.jobId, 'switch', 'tcp');
    expect(await verb(job.jobId, 'reset')).toMatchObject({ ok: true, outcome: 'done' });
    expect((await sendLists(job.jobId))[2]).toEqual(['uds', 'uds', 'self']);
    const status = await verb(job.jobId, 'status');
    const out = await job.stop();
    expect(out.code, out.stderr).toBe(0);
    expectExactlyOnceInOrder(out.stdout, 3);
    // Both transports carried messages of this job (the counters survive the switches).
    for (const rank of status.ranks) {
      const carried = Object.fromEntries(rank.traffic.map((t: { btl: string; fragmentsReceived: number }) => [t.btl, t.fragmentsReceived]));
      expect(carried.uds, `rank ${rank.rank}`).toBeGreaterThan(0);
      expect(carried.tcp, `rank ${rank.rank}`).toBeGreaterThan(0);
    }
  }, 120_000);
});

// An application outside the checkout, installed with the exact command docs/writing-a-btl.md
// gives ("From a Switchyard checkout"): the application package, the transport's two peer
// dependencies and the transport, all from folders, so npm fetches nothing from a registry.
describe('an application outside the checkout installs the transport as the guide says', () => {
  const app = mkdtempSync(join(tmpdir(), 'sy-uds-app-'));
  leftovers.push(app);

  it('installs offline, lists uds, and runs a ring over uds with only uds and self selected', () => {
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'my-app', version: '1.0.0', private: true, type: 'module' }));
    const checkout = ROOT;
    const fromCheckout = ['switchyard', 'btl-interface', 'btl-base'].map((p) => `${checkout}/packages/${p}`);
    npm(['install', ...fromCheckout, PACKAGE], app);
    copyFileSync(join(APP, 'ring.mjs'), join(app, 'ring.mjs'));
    const bin = join(app, 'node_modules/.bin/switchyard');
    const run = (args: string[]) =>
      spawnSync(bin, args, { cwd: app, encoding: 'utf8', timeout: 60_000, env: { ...process.env, HOME: scratch } });
    const info = run(['info', '--param', 'btl', 'uds']);
    expect(info.status, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/MCA btl: uds +\(switchyard-btl-uds v0\.1\.0, API \^1\.0\.0\) available/);
    const ring = run(['run', '-n', '2', '--mca', 'btl', 'uds,self', 'ring.mjs']);
    expect(ring.status, ring.stderr).toBe(0);
    expect(ring.stdout).toMatch(/rank 1 of 2 got 'token' from rank 0/);
    expect(ring.stdout).toMatch(/rank 0 of 2 got 'token' from rank 1/);
  }, 180_000);
});

// The conformance kit judges the installed package as it judges the first-party BTLs.
describeConformance({ packageDir: INSTALLED, ranks: 3 });
