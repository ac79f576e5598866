import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collRows } from '../src/coll/report.js';
import { findOnPath } from '../src/ompi-program.js';
import { cli } from './capture.js';

// `switchyard bench coll` at reduced sizes and iterations: every collective runs on real ranks
// (and under Open MPI where it is installed) and is reported; no figure is held to a speed.

const dir = mkdtempSync(join(tmpdir(), 'sy-bench-coll-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, HOME: dir };
const haveOmpi = ['mpicc', 'mpirun'].every((tool) => findOnPath(tool, process.env));

interface Doc {
  nps: number[];
  rows: Array<{ coll: string; size: number; np: number; switchyardUs: number; ompiUs?: number; ratio?: number; target?: string }>;
}

describe('bench coll', () => {
  it('measures every collective at each size on 3 ranks, in the JSON', async () => {
    const { code, stdout, stderr } = await cli(['bench', 'coll', '-n', '3', '--sizes', '8,1k', '--iterations-scale', '0.01', '--json'], {
      cwd: dir,
      env,
    });
    expect(code, stderr).toBe(0);
    const doc = JSON.parse(stdout) as Doc;
    expect(doc.rows.map((r) => `${r.coll} ${r.size} ${r.np}`)).toEqual([
      'allreduce 8 3',
      'allreduce 1024 3',
      'bcast 8 3',
      'bcast 1024 3',
      'allgather 8 3',
      'allgather 1024 3',
      'alltoall 8 3',
      'alltoall 1024 3',
    ]);
    for (const r of doc.rows) expect(r.switchyardUs).toBeGreaterThan(0);
  }, 180_000);

  it.skipIf(!haveOmpi)('puts Open MPI beside at 4 ranks, with a ratio and PASS or MISS', async () => {
    const args = ['bench', 'coll', '-n', '4', '--sizes', '64k', '--colls', 'allreduce,alltoall', '--iterations-scale', '0.05', '--ompi'];
    const { code, stdout, stderr } = await cli(args, { cwd: dir, env });
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^4 ranks:\n {2}COLL +SIZE +SWITCHYARD-TCP µs +OMPI-TCP µs +RATIO +TARGET\n/);
    expect(stdout).toMatch(/^ {2}allreduce +64K +[\d.]+ +[\d.]+ +[\d.]+x +(PASS|MISS)$/m);
    expect(stdout).toMatch(/^target: within 1\.5x of Open MPI's tcp at 4 ranks: \d\/2 PASS/m);
  }, 180_000);

  it('judges the target only at 4 ranks and only where Open MPI was measured', () => {
    const mine = [
      { coll: 'bcast', size: 8, np: 4, us: 30 },
      { coll: 'bcast', size: 8, np: 8, us: 90 },
      { coll: 'alltoall', size: 8, np: 4, us: 10 },
    ] as const;
    const theirs = [
      { coll: 'bcast', size: 8, np: 4, us: 10 },
      { coll: 'bcast', size: 8, np: 8, us: 10 },
    ] as const;
    expect(collRows(mine, theirs)).toEqual([
      { coll: 'bcast', size: 8, np: 4, switchyardUs: 30, ompiUs: 10, ratio: 3, target: 'MISS' },
      { coll: 'bcast', size: 8, np: 8, switchyardUs: 90, ompiUs: 10, ratio: 9 },
      { coll: 'alltoall', size: 8, np: 4, switchyardUs: 10 },
    ]);
  });

  it('refuses bad options before starting anything', async () => {
    for (const [args, message] of [
      [['-n', '1'], "-n/--np takes rank counts from 2 to 64, comma-separated, got '1'"],
      [['--sizes', '12'], '--sizes: 12 is not a positive multiple of 8 bytes (allreduce sums doubles)'],
      [['--colls', 'scan'], "--colls takes allreduce, bcast, allgather, alltoall, comma-separated, got 'scan'"],
      [['--mca', 'btl', 'openib'], '--mca btl is set by the bench itself: coll measures tcp (with self)'],
    ] as const) {
      const { code, stderr } = await cli(['bench', 'coll', ...args], { cwd: dir, env });
      expect(code).toBe(2);
      // Named as the sub-benchmark, with its own help.
      expect(stderr).toContain(`switchyard bench coll: ${message}\nRun 'switchyard bench coll --help' for usage.`);
    }
  }, 60_000);
});
