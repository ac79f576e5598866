import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ERR_PMIX_UNAVAILABLE, isPmixLaunched, loadNative, PmixUnavailableError } from '../src/index.js';
import { pmixSkipReason, runUnderMpirun } from '../../../test/helpers/run-mpirun.js';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const skip = pmixSkipReason();

describe('loading the addon', () => {
  it('explains what is missing and how to fix it when there is no addon', () => {
    let error: unknown;
    try {
      loadNative({ path: join(PACKAGE_DIR, 'test', 'no-such-addon.node') });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PmixUnavailableError);
    expect(error).toMatchObject({ code: ERR_PMIX_UNAVAILABLE });
    expect((error as Error).message).toMatch(/PMIx addon is unavailable: Cannot find module .*no-such-addon\.node/);
    expect((error as Error).message).toMatch(/install libpmix-dev.*npm rebuild @switchyard\/pmix/);
  });

  it('knows a PMIx launcher by its namespace, rank and server address', () => {
    const env = { PMIX_NAMESPACE: '4711', PMIX_RANK: '0', PMIX_SERVER_URI41: '4710.0;tcp4://127.0.0.1:5000' };
    expect(isPmixLaunched(env)).toBe(true);
    expect(isPmixLaunched({ ...env, PMIX_SERVER_URI41: undefined, PMIX_SERVER_URI2: 'x' })).toBe(true);
    expect(isPmixLaunched({ ...env, PMIX_SERVER_URI41: undefined })).toBe(false);
    expect(isPmixLaunched({ ...env, PMIX_RANK: undefined })).toBe(false);
    expect(isPmixLaunched({})).toBe(false);
  });
});

describe.skipIf(skip !== undefined)('the PMIx client', () => {
  beforeAll(() => {
    // The rank fixture imports the built package, as apps do.
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const built = spawnSync(process.execPath, [tsc, '-b', PACKAGE_DIR], { encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`tsc -b ${PACKAGE_DIR} failed:\n${built.stdout}${built.stderr}`);
  });

  it('reports UNREACHABLE when no launcher started this process', () => {
    // In a child: this process must not hold a half-initialised libpmix.
    const probe = `import('${join(PACKAGE_DIR, 'dist/index.js')}').then((m) => { try { m.PmixClient.init(); console.log('joined'); } ` +
      `catch (e) { console.log(e.pmixStatus, e.message); } })`;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PMIX_')));
    const out = spawnSync(process.execPath, ['-e', probe], { env, encoding: 'utf8', timeout: 20_000 });
    expect(out.stdout.trim()).toBe('UNREACHABLE PMIx_Init: UNREACHABLE');
  });

  it('puts, fences with data collection and gets strings and bytes among 3 ranks of mpirun', async () => {
    const job = await runUnderMpirun(3, [process.execPath, join(PACKAGE_DIR, 'test/fixtures/roundtrip.mjs')], { cwd: PACKAGE_DIR });
    expect(job.stderr).toBe('');
    expect(job.code).toBe(0);
    const lines = job.stdout.trim().split('\n').map((l) => JSON.parse(l)).sort((a, b) => a.info.rank - b.info.rank);
    expect(lines.map((l) => l.info.rank)).toEqual([0, 1, 2]);
    const nspace = lines[0].info.nspace;
    for (const { info, seen } of lines) {
      expect(info).toMatchObject({ size: 3, nspace, localSize: 3, localPeers: [0, 1, 2] });
      expect(info.localRank).toBe(info.rank);
      expect(info.nodeName).not.toBe('');
      expect(seen).toEqual([0, 1, 2].map((r) => ({ r, card: `rank-${r}`, bytes: [r, 255, 0] })));
    }
  });
});
