import { describe, expect, it } from 'vitest';
import { probeCriu } from '@switchyard/control';
import { cli } from './capture.js';

// Behaviour only: a real job of `switchyard run` (the rank program comes from dist/, so the
// package must be built), saved and restored with the real commands and CRIU; no number is held
// to a speed. Needs root and CRIU 4.2+ (scripts/get-criu.sh); where CI is set it must run.
function criuSkipReason(): string | undefined {
  if (process.env.CI) return undefined;
  if (process.getuid?.() !== 0) return 'CRIU needs root';
  return probeCriu().problem?.reason;
}
const skip = criuSkipReason();

describe('switchyard bench checkpoint', () => {
  it('refuses a bad --np before starting anything', async () => {
    const r = await cli(['bench', 'checkpoint', '--np', '1'], { cwd: process.cwd() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("switchyard bench checkpoint: --np takes job sizes from 2 to 64, comma-separated, got '1'");
    expect(r.stderr).toContain("Run 'switchyard bench checkpoint --help' for usage.");
    const other = await cli(['bench', 'checkpoint', '--mca', 'btl', 'tcp'], { cwd: process.cwd() });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain("--mca: the checkpoint benchmark reads crs_criu_path only, got 'btl'");
  });

  it('takes the CRIU binary as --mca crs_criu_path, as its refusal suggests', async () => {
    const r = await cli(['bench', 'checkpoint', '--mca', 'crs_criu_path', '/nonexistent'], { cwd: process.cwd() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/nonexistent is not an executable file');
  });

  const TWO_RANKS = '2 ranks: every step timed, images per rank, pauses; the job ends with every message once, in order';
  it.skipIf(skip !== undefined)(TWO_RANKS, async () => {
    const r = await cli(['bench', 'checkpoint', '--np', '2', '--json'], { cwd: process.cwd() });
    expect(r.code, r.stderr).toBe(0);
    // Progress went to stderr, the results alone to stdout.
    expect(r.stderr).toContain('checkpoint save --leave-running');
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ bench: 'checkpoint', criu: { version: expect.stringMatching(/^\d+\.\d+/) } });
    expect(doc.runs).toHaveLength(1);
    const run = doc.runs[0];
    expect(run).toMatchObject({ np: 2, ok: true, jobId: expect.any(String) });
    expect(run.iterations).toBeGreaterThan(0);
    expect(run.iterationMs).toBeGreaterThan(0);
    for (const key of ['prepareMs', 'dumpMs', 'continueMs', 'wallMs']) expect(run.leaveRunning[key]).toBeGreaterThan(0);
    for (const key of ['prepareMs', 'dumpMs', 'restoreMs', 'continueMs', 'wallMs']) expect(run.saveRestore[key]).toBeGreaterThan(0);
    expect(run.leaveRunning.pauseMs).toHaveLength(2);
    // The ranks were gone between the dump and the restore: each saw that as one long iteration.
    expect(run.saveRestore.pauseMs).toHaveLength(2);
    for (const p of run.saveRestore.pauseMs) expect(p).toBeGreaterThan(run.iterationMs);
    expect(run.saveRestore.imageBytes).toHaveLength(2);
    for (const b of run.saveRestore.imageBytes) expect(b).toBeGreaterThan(1e6);
    expect(run.saveRestore.imagesBytes).toBeGreaterThan(run.saveRestore.launcherImageBytes);
  }, 300_000);
});
