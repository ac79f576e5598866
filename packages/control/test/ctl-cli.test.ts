import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processStart, userJobsRoot, writeJobRecord } from '@switchyard/runtime';
import type { CtlStatus } from '../src/coordinator.js';
import type { VerbResult } from '../src/protocol.js';
import {
  cli,
  FAKE_AGENT,
  isAlive,
  killLeftovers,
  privateJobsFolder,
  rankEnv,
  startFakeJob,
  startedPids,
  type FakeJob,
} from './fixtures/ctl-harness.js';

// `switchyard ctl` run in-process against real jobs of fake-agent ranks (at most 3 per job) in a
// jobs folder of this file's own, so other tests' jobs are not seen. Every job is stopped by the
// test or hook that started it; afterAll kills anything a failure left.
const removeJobsFolder = privateJobsFolder();
afterAll(() => {
  const left = killLeftovers();
  removeJobsFolder();
  expect(left, 'rank processes left running').toEqual([]);
});

const USAGE_HINT = "Run 'switchyard ctl --help' for usage.";
const TIMEOUT_TAKES = '--timeout takes a positive number of milliseconds (at most 86400000), or with a unit: 500ms, 30s, 2m';

/** Phases each rank's fake agent saw, from `ctl status --json`. */
async function seen(): Promise<string[][]> {
  const { code, stdout } = await cli(['ctl', 'status', '--json']);
  expect(code).toBe(0);
  return (JSON.parse(stdout) as CtlStatus).ranks.map((r) => (r as unknown as { fake: { seen: string[] } }).fake.seen);
}

describe('switchyard ctl with no job running', () => {
  it('says so for jobs, in text and JSON', async () => {
    expect(await cli(['ctl', 'jobs'])).toEqual({ code: 0, stdout: 'no switchyard job of this user is running\n', stderr: '' });
    const json = await cli(['ctl', 'jobs', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([]);
  });

  it('fails a verb with a clear message', async () => {
    expect(await cli(['ctl', 'status'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'switchyard ctl: no running switchyard job of this user\n',
    });
    const wrong = await cli(['ctl', '--job', 'nope', 'switch', 'tcp']);
    expect(wrong).toMatchObject({ code: 1, stderr: "switchyard ctl: no running job 'nope'; no switchyard job of this user is running\n" });
  });

  it('takes --timeout with a unit (seconds, as switchyard run counts them, or minutes)', async () => {
    for (const t of ['30s', '2m', '1.5s', '500ms', '500']) {
      // Accepted: it gets as far as looking for the job.
      const answer = await cli(['ctl', 'reset', '--timeout', t]);
      expect(answer).toMatchObject({ code: 1, stderr: 'switchyard ctl: no running switchyard job of this user\n' });
    }
    expect((await cli(['ctl', 'reset', '--timeout', '5h'])).code).toBe(2);
  });

  it('answers --json on stdout with a typed code when there is no job to talk to', async () => {
    for (const argv of [['ctl', 'status', '--json'], ['ctl', '--job', 'nope', 'switch', 'tcp', '--json']]) {
      const { code, stdout, stderr } = await cli(argv);
      expect(code).toBe(1);
      expect(JSON.parse(stdout)).toMatchObject({ ok: false, outcome: 'failed', code: 'ERR_CTL_NO_JOB' });
      expect(stderr).toMatch(/^switchyard ctl: no running/);
    }
  });

  it('answers a usage error on stdout too when --json is given (exit 2, nothing changed)', async () => {
    for (const [argv, message] of [
      [['ctl', 'switch', '--bogus', '--json'], "unknown option '--bogus'"],
      [['ctl', '--json', 'frob'], "unknown verb 'frob'; verbs: jobs, status"],
    ] as const) {
      const { code, stdout, stderr } = await cli([...argv]);
      expect(code).toBe(2);
      const answer = JSON.parse(stdout);
      expect(answer).toMatchObject({ ok: false, outcome: 'usage', code: 'ERR_CTL_USAGE' });
      expect(answer.message).toContain(message);
      expect(stderr).toContain(`switchyard ctl: ${message}`);
    }
    // Without --json, stdout stays empty.
    expect((await cli(['ctl', 'frob'])).stdout).toBe('');
  });

  it('prints its help and is listed by switchyard --help', async () => {
    const help = await cli(['ctl', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: switchyard ctl \[--job ID\] VERB \[ARGS\] \[--ranks LIST\] \[--json\]/);
    for (const verb of [
      'jobs',
      'status',
      'switch BTL[,BTL...]',
      'reset',
      'unload BTL',
      'load BTL',
      'apply --mca KEY VALUE...',
      'checkpoint prepare|continue|restart',
      'migrate --ranks R --to HOST',
    ]) {
      expect(help.stdout).toContain(`  ${verb}`);
    }
    expect((await cli(['--help'])).stdout).toMatch(/^ {2}ctl +talk to a running job/m);
    const migrate = await cli(['ctl', 'migrate', '--help']);
    expect(migrate.code).toBe(0);
    expect(migrate.stdout).toMatch(/^Usage: switchyard ctl \[--job ID\] migrate --ranks R --to HOST/);
    expect(migrate.stdout).toMatch(/^ {2}--to HOST +where it goes$/m);
  });

  it('prints the help of one verb, with the options it takes, from the general help', async () => {
    const options = (text: string) => [...text.matchAll(/^ {2}(-[-\w]+)/gm)].map((m) => m[1]);
    const sw = await cli(['ctl', 'switch', '--help']);
    expect(sw.code).toBe(0);
    expect(sw.stdout).toMatch(/^Usage: switchyard ctl \[--job ID\] switch BTL\[,BTL\.\.\.\] \[OPTIONS\]\n\n {2}switch BTL\[,BTL\.\.\.\] +carry traffic/);
    expect(options(sw.stdout)).toEqual(['--job', '--controller', '--secret-file', '--ranks', '--timeout', '--json', '-h']);
    expect(sw.stdout).toContain('Exit codes: 0 done; 1 refused (nothing changed) or failed');
    const status = await cli(['ctl', 'status', '-h']);
    const statusOptions = ['--job', '--controller', '--secret-file', '--ranks', '--timeout', '--watch', '--interval', '--json', '-h'];
    expect(options(status.stdout)).toEqual(statusOptions);
    const checkpoint = (await cli(['ctl', 'checkpoint', '--help'])).stdout;
    expect(checkpoint).toMatch(/^Usage: switchyard ctl \[--job ID\] checkpoint prepare\|continue\|restart \[OPTIONS\]\n {7}switchyard ctl/);
    expect(options((await cli(['ctl', 'jobs', '--help'])).stdout)).toEqual(['--json', '-h']);
  });
});

describe('switchyard ctl with one job of 3 ranks', () => {
  let fake: FakeJob;
  beforeAll(async () => {
    fake = await startFakeJob(3, { env: { CTL_FAKE_SLOW_MS: '1200' } });
  }, 20_000);
  afterAll(async () => {
    expect((await fake?.stop())?.exitCode).toBe(130);
  }, 20_000);

  it('lists it with jobs, in text and JSON (without the secret)', async () => {
    const text = await cli(['ctl', 'jobs']);
    expect(text.code).toBe(0);
    const [header, row, ...rest] = text.stdout.split('\n');
    expect(header).toMatch(/^ID +RANKS +STARTED +LAUNCHER +PID +STATE +SCRIPT$/);
    expect(row).toMatch(
      new RegExp(`^${fake.job.jobId} +3 +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +switchyard +${process.pid} +running +${FAKE_AGENT}$`),
    );
    expect(rest).toEqual(['']);
    const json = JSON.parse((await cli(['ctl', 'jobs', '--json'])).stdout);
    expect(json).toEqual([expect.objectContaining({ jobId: fake.job.jobId, np: 3, pid: process.pid, script: FAKE_AGENT, args: [] })]);
    expect(json[0]).not.toHaveProperty('secret');
  });

  it('reports status per rank: components, grouped peers, traffic', async () => {
    const { code, stdout, stderr } = await cli(['ctl', 'status']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(
      new RegExp(`^job ${fake.job.jobId} \\(launcher pid ${process.pid}\\): 3 ranks, started .+\\n  script: ${FAKE_AGENT}\\n`),
    );
    const rank1 = stdout.slice(stdout.indexOf('\nrank 1 '), stdout.indexOf('\nrank 2 '));
    expect(rank1).toBe(
      [
        '',
        `rank 1 (pid ${fake.job.pids[1]} on ${rank1.match(/ on ([^)]+)\):/)![1]}):`,
        '  components: self [self], tcp [tcp0] (checkpointable)',
        '  peers 0,2: send tcp, eager tcp',
        '  peer 1: send self, eager self',
        '  traffic:',
        '    BTL   FRAGS SENT  BYTES SENT  FRAGS RECEIVED  BYTES RECEIVED',
        '    self           0         0 B               0             0 B',
        '    tcp           11     8.0 KiB               7          1000 B',
        '',
      ].join('\n'),
    );
    // Identical peer lines are grouped.
    expect(stdout).toContain('\nrank 0 ');
    expect(stdout).toMatch(/rank 0 [^\n]+\n {2}components: [^\n]+\n {2}peer 0: send self, eager self\n {2}peers 1-2: send tcp, eager tcp\n/);
  });

  it('reports status as JSON and for chosen ranks', async () => {
    const json = await cli(['ctl', 'status', '--json']);
    expect(json.code).toBe(0);
    const status = JSON.parse(json.stdout) as CtlStatus;
    expect(status).toMatchObject({ jobId: fake.job.jobId, size: 3, script: FAKE_AGENT });
    expect(status.ranks.map((r) => [r.rank, r.pid])).toEqual([0, 1, 2].map((r) => [r, fake.job.pids[r]]));
    const some = await cli(['ctl', 'status', '--ranks', '0,2']);
    expect(some.stdout).toContain('\nrank 0 ');
    expect(some.stdout).not.toContain('\nrank 1 ');
    expect(some.stdout).toContain('\nrank 2 ');
    expect(JSON.parse((await cli(['ctl', 'status', '--json', '--ranks', '1'])).stdout).ranks.map((r: { rank: number }) => r.rank)).toEqual([
      1,
    ]);
  });

  it('runs a verb and prints what changed per rank, grouped when identical, with the time', async () => {
    const sw = await cli(['ctl', 'switch', 'tcp', '--ranks', '0']);
    expect(sw.stderr).toBe('');
    expect(sw.code).toBe(0);
    expect(sw.stdout).toMatch(/^switch tcp --ranks 0: done in \d+(\.\d)? ms\n {2}rank 0:\n {4}peer 1: send tcp\n {4}peer 2: send tcp\n$/);
    const reset = await cli(['ctl', '--job', fake.job.jobId, 'reset']);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toMatch(/^reset: done in \d+(\.\d)? ms\n {2}ranks 0-2: policy back to the configured one\n$/);
  });

  it('prints the VerbResult with --json', async () => {
    const { code, stdout } = await cli(['ctl', 'apply', '--mca', 'btl_tcp_eager_limit', '65536', '--mca', 'pml_x=1', '--json']);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as VerbResult;
    expect(result).toMatchObject({ ok: true, outcome: 'done', verb: 'apply --mca btl_tcp_eager_limit 65536 --mca pml_x 1', errors: [] });
    expect(result.changes).toEqual([0, 1, 2].map((rank) => ({ rank, changes: ['btl_tcp_eager_limit = 65536', 'pml_x = 1'] })));
    expect((await cli(['ctl', 'status'])).stdout).toContain('  runtime parameters: btl_tcp_eager_limit=65536, pml_x=1\n');
  });

  it('runs checkpoint prepare and continue', async () => {
    expect((await cli(['ctl', 'checkpoint', 'prepare'])).stdout).toMatch(/^checkpoint prepare: done in .+\n {2}ranks 0-2: ready for checkpoint\n$/);
    expect((await cli(['ctl', 'status'])).stdout).toContain('  checkpoint: prepared\n');
    expect((await cli(['ctl', 'checkpoint', 'continue'])).code).toBe(0);
    expect((await cli(['ctl', 'status'])).stdout).not.toContain('checkpoint:');
  });

  it('exits 1 on a refusal, says nothing changed, and no rank committed', async () => {
    const before = await seen();
    const { code, stdout, stderr } = await cli(['ctl', 'unload', 'tcp']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe('switchyard ctl: refused: ranks 0-2: unloading tcp would leave every peer without a transport; nothing changed\n');
    const after = await seen();
    for (let r = 0; r < 3; r++) expect(after[r]!.slice(before[r]!.length).map((l) => l.split(' ')[0])).toEqual(['prepare', 'abort']);

    const one = await cli(['ctl', 'load', 'picky', '--json']);
    expect(one.code).toBe(1);
    expect(JSON.parse(one.stdout)).toMatchObject({
      ok: false,
      outcome: 'refused',
      errors: [{ rank: 1, message: 'rank 1: no device for picky' }],
    });
    expect(one.stderr).toBe('switchyard ctl: refused: rank 1: no device for picky; nothing changed\n');
  });

  it('says where each rank stands after a failed verb, in its answer and in status', async () => {
    const { code, stdout, stderr } = await cli(['ctl', 'load', 'sticky']);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^load sticky: failed after .+; changes made:\n {2}ranks 1-2: loaded sticky \(1 module\)\nafter the rollback:\n/);
    expect(stdout).toContain(
      "  rank 0: unchanged\n  rank 1: rolled-back\n  rank 2: partial (undoing 'load sticky' failed: finalize hung)\n    still applied: " +
        'loaded sticky (1 module)\n',
    );
    expect(stderr).toBe(
      "switchyard ctl: failed: rank 0: the device went away; rank 2: undoing 'load sticky' failed: finalize hung (still applied: loaded " +
        'sticky (1 module))\n',
    );
    const status = (await cli(['ctl', 'status'])).stdout;
    expect(status).toContain('  last verb failed: load sticky\n    rank 0: unchanged\n');
    expect(status).toContain(
      "  partly applied: load sticky: rank 2: undoing 'load sticky' failed: finalize hung\n    still applied: loaded sticky (1 module)\n",
    );
  });

  it('shows progress on one updating line of a terminal and clears it', async () => {
    const { code, stdout, stderr } = await cli(['ctl', 'load', 'slow'], { tty: true });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^load slow: done in \d+ ms\n {2}ranks 0-2: loaded slow \(1 module\)\n$/);
    // One line redrawn in place (\r, clear to the end), cleared at the end; no newline.
    // eslint-disable-next-line no-control-regex -- the terminal's escape sequence is what is checked
    expect(stderr).toMatch(/^(\r\x1b\[Kload slow: (prepare|commit) \d\/3 ranks)+\r\x1b\[K$/);
    expect(stderr).toContain('load slow: commit 0/3 ranks');
  }, 10_000);

  it('refuses a verb while another is in progress', async () => {
    const first = cli(['ctl', 'load', 'slow']);
    const deadline = Date.now() + 5000;
    while (fake.coordinator.progress().phase !== 'commit' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const second = await cli(['ctl', 'switch', 'tcp']);
    expect(second).toEqual({
      code: 1,
      stdout: '',
      stderr: 'switchyard ctl: refused: another verb is in progress: load slow; nothing changed\n',
    });
    expect((await first).code).toBe(0);
  }, 10_000);

  it('fails a verb whose ranks take longer than --timeout, naming them', async () => {
    const t0 = Date.now();
    const { code, stdout, stderr } = await cli(['ctl', 'load', 'slow', '--timeout', '300']);
    expect(Date.now() - t0).toBeLessThan(1100);
    expect(code).toBe(1);
    // Ranks that did not answer their commit may still be carrying it out: said, not guessed.
    expect(stdout).toMatch(/^load slow: failed after \d+ ms\nafter the rollback:\n {2}ranks 0-2: unknown \(did not answer within 300 ms\)\n$/);
    expect(stderr).toBe('switchyard ctl: failed: ranks 0-2 did not answer within 300 ms\n');
    expect(fake.coordinator.progress()).toEqual({ done: 0, total: 3 });
    // The ranks are still in their (fake) commit; let them finish before the next test.
    await new Promise((r) => setTimeout(r, 1200));
  }, 10_000);

  it('finds the job by a unique start of its id, and lists the jobs when --job matches none', async () => {
    expect((await cli(['ctl', '--job', fake.job.jobId.slice(0, 6), 'reset'])).code).toBe(0);
    const wrong = await cli(['ctl', '--job', 'zz-nope', 'status']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe(
      `switchyard ctl: no running job 'zz-nope'; running jobs: ${fake.job.jobId} (3 ranks, ctl-fake-agent.ts, launcher pid ` +
        `${process.pid})\n`,
    );
  });

  it('refuses --ranks naming a rank the job does not have, before sending anything', async () => {
    const before = await seen();
    const { code, stdout, stderr } = await cli(['ctl', 'switch', 'tcp', '--ranks', '1,3']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(`switchyard ctl: --ranks: rank 3 in rank list '1,3' does not exist: the job has ranks 0-2\n${USAGE_HINT}\n`);
    expect(await seen()).toEqual(before);
  });

  it.each([
    [[], 'missing VERB; verbs: jobs, status, switch, reset, unload, load, apply, checkpoint, migrate'],
    [['explode'], "unknown verb 'explode'; verbs: jobs, status, switch, reset, unload, load, apply, checkpoint, migrate"],
    [
      ['swich', 'tcp'],
      "unknown verb 'swich' (did you mean 'switch'?); verbs: jobs, status, switch, reset, unload, load, apply, checkpoint, migrate",
    ],
    [['switch'], 'switch needs one or more BTLs: switchyard ctl switch BTL[,BTL...]'],
    [['switch', 'tcp,'], 'missing BTL name'],
    [['switch', 'tcp', 'openib'], "switch takes one comma-separated list of BTLs, got 'tcp openib'"],
    [['unload'], 'unload needs a BTL: switchyard ctl unload BTL'],
    [['load', 'tcp,openib'], "load takes one BTL, got 'tcp,openib'"],
    [['apply'], 'apply needs at least one --mca KEY VALUE'],
    [['apply', 'btl', 'tcp'], "apply takes --mca KEY VALUE pairs, not 'btl tcp'"],
    [['switch', 'tcp', '--mca', 'btl', 'tcp'], '--mca is for apply; switch takes none'],
    [['checkpoint'], 'checkpoint needs a phase: switchyard ctl checkpoint prepare|continue|restart|save DIR'],
    [['checkpoint', 'save'], 'checkpoint save needs a folder: switchyard ctl checkpoint save DIR'],
    [['checkpoint', 'save', 'a', 'b'], "checkpoint save takes one DIR, got 'a b'"],
    [['checkpoint', 'prepare', '--leave-running'], '--leave-running is for checkpoint save'],
    [['status', '--criu', '/x'], '--criu is for checkpoint save'],
    [['checkpoint', 'later'], "checkpoint takes prepare, continue, restart or save DIR, got 'later'"],
    [['checkpoint', 'prepare', '--ranks', '1'], 'checkpoint applies to every rank; it takes no --ranks'],
    [['reset', 'now'], "reset takes no arguments, got 'now'"],
    [['status', 'now'], "status takes no arguments, got 'now'"],
    [['jobs', '--job', 'x'], 'jobs lists every job; it takes no --job'],
    [['switch', 'tcp', '--ranks', '2-1'], "--ranks: range '2-1' in rank list '2-1' runs backwards"],
    [['switch', 'tcp', '--ranks', 'all'], "--ranks: 'all' in rank list 'all' is not a rank or a range (e.g. 3 or 0,2-5)"],
    [['reset', '--timeout', 'soon'], `${TIMEOUT_TAKES}, got 'soon'`],
    [['reset', '--timeout', '0.5'], `${TIMEOUT_TAKES}, got '0.5'`],
    [['reset', '--bogus'], "unknown option '--bogus'"],
    [['migrate', '--to', 'node2'], 'migrate needs the rank to move: --ranks R'],
    [['migrate', '--ranks', '1'], 'migrate needs the host to move to: --to HOST'],
    [['migrate', '--ranks', '1,2', '--to', 'node2'], 'migrate moves one rank at a time, got --ranks 1,2'],
    [['migrate', 'node2', '--ranks', '1'], "migrate takes --ranks R --to HOST, not 'node2'"],
    [['status', '--to', 'node2'], '--to is for migrate'],
  ])('refuses %j with a usage error and sends nothing', async (argv, message) => {
    const before = fake.coordinator.progress();
    const { code, stdout, stderr } = await cli(['ctl', ...argv]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(`switchyard ctl: ${message}\n${USAGE_HINT}\n`);
    expect(fake.coordinator.progress()).toEqual(before);
  });

  it('asks for --job when several jobs run', async () => {
    const other = await startFakeJob(1);
    try {
      const { code, stderr } = await cli(['ctl', 'status']);
      expect(code).toBe(1);
      const ids = [fake.job.jobId, other.job.jobId].sort();
      expect(stderr).toBe(`switchyard ctl: several jobs are running (${ids.join(', ')}); choose one with --job ID\n`);
      const json = await cli(['ctl', 'switch', 'tcp', '--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, code: 'ERR_CTL_JOB_AMBIGUOUS' });
      expect((await cli(['ctl', '--job', other.job.jobId, 'reset'])).stdout).toMatch(/^reset: done in .+\n {2}rank 0: policy back/);
      expect((await cli(['ctl', 'jobs'])).stdout.trim().split('\n')).toHaveLength(3);
    } finally {
      await other.stop();
    }
  }, 20_000);
});

describe('switchyard ctl status when a rank does not answer', () => {
  it('lists the rank with why and exits 1', async () => {
    const fake = await startFakeJob(2, { env: { CTL_FAKE_SILENT_RANK: '1' } });
    try {
      const { code, stdout } = await cli(['ctl', 'status', '--timeout', '1000']);
      expect(code).toBe(1);
      expect(stdout).toContain(`\nrank 0 (pid ${fake.job.pids[0]} on `);
      expect(stdout).toMatch(
        new RegExp(`\\nrank 1 \\(pid ${fake.job.pids[1]}\\): no answer \\(connected\\): did not answer within 1000 ms\\n$`),
      );
      const json = JSON.parse((await cli(['ctl', 'status', '--json', '--timeout', '1000'])).stdout) as CtlStatus;
      expect(json.ranks[1]).toEqual({ rank: 1, pid: fake.job.pids[1], state: 'connected', error: 'did not answer within 1000 ms' });
    } finally {
      await fake.stop();
    }
  }, 20_000);
});

describe('switchyard ctl when a rank dies during a verb', () => {
  it('exits 1 naming the rank, in bounded time', async () => {
    const fake = await startFakeJob(3, { env: { CTL_FAKE_SLOW_MS: '10000' } });
    try {
      const t0 = Date.now();
      const { code, stderr } = await cli(['ctl', 'load', 'crash', '--ranks', '1']);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(code).toBe(1);
      expect(stderr).toMatch(/^switchyard ctl: failed: rank 1 exited with code 3 before answering; .*the job is being aborted: rank 1 \(pid \d+\) exited with code 3\n$/);
      expect((await fake.result).exitCode).toBe(3);
      for (const pid of fake.job.pids) expect(isAlive(pid!)).toBe(false);
    } finally {
      await fake.stop();
    }
  }, 20_000);
});

describe('switchyard ctl with a job whose launcher is stopped (SIGSTOP)', () => {
  it('says the launcher is stopped and how to resume it, not only that it did not answer', async () => {
    // A launcher stopped by Ctrl-Z or kill -STOP: its socket takes connections (the kernel accepts
    // them) and answers nothing.
    const launcher = spawn('sleep', ['60'], { stdio: 'ignore' });
    const pid = launcher.pid!;
    startedPids.add(pid);
    const jobDir = join(userJobsRoot(), 'job-stoppedlauncher');
    mkdirSync(jobDir, { recursive: true, mode: 0o700 });
    const socketPath = join(jobDir, 'hnp.sock');
    const held: Socket[] = [];
    const server = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      process.kill(pid, 'SIGSTOP');
      await new Promise((r) => setTimeout(r, 100));
      const record = { jobId: 'stoppedlauncher', pid, pidStart: processStart(pid), np: 2, script: '/app.mjs', args: [], cwd: '/' };
      writeJobRecord({ ...record, startTime: new Date().toISOString(), socketPath, jobDir, secret: 'ab'.repeat(32) });
      const { code, stderr } = await cli(['ctl', '--job', 'stoppedlauncher', 'status']);
      expect(code).toBe(1);
      expect(stderr).toContain(`cannot reach job stoppedlauncher (launcher pid ${pid}): `);
      expect(stderr).toContain(`its process (pid ${pid}) is stopped (SIGSTOP, Ctrl-Z or a debugger); 'kill -CONT ${pid}' resumes it`);
      // --timeout bounds reaching it too, not only the ranks' answers.
      const quick = await cli(['ctl', '--job', 'stoppedlauncher', 'switch', 'tcp', '--timeout', '1000']);
      expect(quick.code).toBe(1);
      expect(quick.stderr).toContain('did not answer within 1000 ms');
    } finally {
      held.forEach((s) => s.destroy());
      server.close();
      launcher.kill('SIGKILL');
      rmSync(jobDir, { recursive: true, force: true });
    }
  }, 20_000);
});

describe('switchyard ctl with a job whose launcher runs no coordinator', () => {
  it('says the job takes no control verbs (known by the error code, not its words)', async () => {
    const fake = await startFakeJob(1);
    try {
      fake.coordinator.uninstall();
      const { code, stderr } = await cli(['ctl', 'switch', 'tcp']);
      expect(code).toBe(1);
      expect(stderr).toBe(
        `switchyard ctl: job ${fake.job.jobId} does not take control verbs: its launcher runs no coordinator (unknown method 'ctl')\n`,
      );
    } finally {
      await fake.stop();
    }
  }, 20_000);
});

describe('switchyard run installs the coordinator', () => {
  it('answers switchyard ctl for a job it launched', async () => {
    const running = cli(['run', '-n', '2', FAKE_AGENT], { env: rankEnv() });
    try {
      const deadline = Date.now() + 15_000;
      let status: CtlStatus | undefined;
      while (!status && Date.now() < deadline) {
        const s = await cli(['ctl', 'status', '--json']);
        if (s.code === 0) status = JSON.parse(s.stdout) as CtlStatus;
        else await new Promise((r) => setTimeout(r, 100));
      }
      expect(status?.ranks).toHaveLength(2);
      for (const r of status!.ranks) startedPids.add(r.pid!);
      const reset = await cli(['ctl', 'reset']);
      expect(reset.code).toBe(0);
      expect(reset.stdout).toMatch(/^reset: done in .+\n {2}ranks 0-1: policy back to the configured one\n$/);
      // End the job: a rank killed by SIGTERM aborts it.
      process.kill(status!.ranks[0]!.pid!, 'SIGTERM');
      const ended = await running;
      expect(ended.code).toBe(143);
      expect(ended.stderr).toMatch(/rank 0 \(pid \d+\) was killed by signal SIGTERM; aborting the job/);
    } finally {
      killLeftovers();
      await running.catch(() => {});
    }
  }, 30_000);
});
