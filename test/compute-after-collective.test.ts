import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { results, runJob } from './helpers/run-job.js';

// A collective that returned on a rank has sent what that rank owed: a rank that computes right
// after it (no event loop turn) must not hold its peers' calls for as long as it computes. btl-tcp
// gathered the frames of a tick and wrote them at its end, after the collective's caller had
// resumed: its last sends stayed there, and its peers waited for the whole compute phase. The
// same for a message posted with isend just before the compute (MPI_Isend, compute, MPI_Wait),
// which Open MPI's tcp BTL writes at once.
describe('a rank computing right after a collective', () => {
  it.each([
    ['bcast', 42 + 1],
    ['allreduce', 0 + 1 + 2],
    ['isend', 7],
  ])('over tcp, %s: the other ranks finish while it computes', async (collective, expected) => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-compute-coll-'));
    try {
      const out = await runJob(['-n', '3', '--mca', 'btl', 'tcp,self', 'compute-after-collective.mjs', dir, collective, '10000'], {
        timeoutMs: 60_000,
      });
      expect(out.code, out.stderr).toBe(0);
      const reports = results<{ rank: number; value: number; othersDoneWhileComputing?: boolean }>(out.stdout);
      expect(reports.map((r) => r.value)).toEqual([expected, expected, expected]);
      expect(reports.find((r) => r.rank === 1)?.othersDoneWhileComputing, out.stdout).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
