import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectTool,
  listJobs,
  RequestError,
  TOOL_RANK_LEAVE,
  TOOL_RANK_RETURN,
  userJobsRoot,
  type LeaveAnswer,
  type RunningJob,
} from '../src/index.js';
import { processStart } from '../src/launcher-alive.js';
import { openOobConnection } from '../src/oob-client.js';
import type { Message } from '../src/protocol.js';
import { buildRuntime, FIXTURES, isAlive, killLeftovers, launch, pidsIn, seenPids, waitFor } from './helpers.js';

// Multi-process tests: real ranks (at most 4 per job), each test bounded by a timeout, and
// afterAll kills anything a failed test may have left.
beforeAll(() => buildRuntime(), 60_000);
afterAll(() => killLeftovers());

const mode = (m: string) => m;

function expectAllDead(pids: Map<number, number>, np: number): void {
  expect(pids.size).toBe(np);
  for (const [rank, pid] of pids) expect(isAlive(pid), `rank ${rank} (pid ${pid}) is still running`).toBe(false);
}

describe('launchJob', () => {
  it('gives N ranks distinct ranks, the size, repeated modex tables and the --mca pairs; the job dir is private and removed', async () => {
    let jobDir = '';
    const modes: number[] = [];
    const { result, out, err } = await launch(4, 'rank.mjs', [mode('report')], {
      mca: [
        ['btl', 'tcp,self'],
        ['btl_tcp_port', '0'],
      ],
      onReady: (job) => {
        jobDir = job.jobDir;
        modes.push(statSync(dirname(jobDir)).mode & 0o777, statSync(jobDir).mode & 0o777, statSync(join(jobDir, 'job.json')).mode & 0o777);
      },
    });
    expect(err).toBe('');
    expect(result.exitCode).toBe(0);
    expect(modes).toEqual([0o700, 0o700, 0o600]);
    expect(dirname(jobDir)).toBe(userJobsRoot());
    expect(existsSync(jobDir)).toBe(false);

    const reports = [...out.matchAll(/^JSON (.*)$/gm)].map((m) => JSON.parse(m[1]!));
    expect(reports.map((r) => r.rank).sort()).toEqual([0, 1, 2, 3]);
    for (const r of reports) {
      expect(r).toMatchObject({ kind: 'embedded', size: 4, jobId: result.jobId, mca: [['btl', 'tcp,self'], ['btl_tcp_port', '0']] });
      expect(r.first).toEqual(reports.map((_, i) => ({ rank: i, pid: reports.find((x) => x.rank === i).pid, card: `addr-${i}` })));
      expect(r.second).toEqual([0, 1, 2, 3].map((i) => ({ round: 2, rank: i })));
    }
    expect(result.ranks.map((r) => r.exit)).toEqual(Array(4).fill({ code: 0, signal: null }));
  }, 20_000);

  it('aborts the job when a rank exits non-zero, naming the rank, and leaves no process', async () => {
    const { result, err, pids } = await launch(3, 'rank.mjs', [mode('fail'), '1', '3']);
    expect(result.exitCode).toBe(3);
    expect(err).toContain(`switchyard run: rank 1 (pid ${pids.get(1)}) exited with code 3; aborting the job`);
    expect(result.abortReason).toMatch(/^rank 1 /);
    expectAllDead(pids, 3);
    expect(result.ranks.filter((r) => r.rank !== 1).every((r) => r.exit.signal === 'SIGTERM')).toBe(true);
  }, 20_000);

  it('aborts the job when a rank is killed by a signal', async () => {
    const { result, err, pids } = await launch(3, 'rank.mjs', [mode('kill-self')]);
    expect(result.exitCode).toBe(128 + 9);
    expect(err).toContain(`rank 1 (pid ${pids.get(1)}) was killed by signal SIGKILL; aborting the job`);
    expectAllDead(pids, 3);
  }, 20_000);

  it('aborts the job when a rank calls abort(code, message) over the OOB channel', async () => {
    const { result, err, pids } = await launch(3, 'rank.mjs', [mode('abort')]);
    expect(result.exitCode).toBe(5);
    expect(err).toContain(`rank 1 (pid ${pids.get(1)}) called abort with code 5: the input file is corrupt; aborting the job`);
    expectAllDead(pids, 3);
  }, 20_000);

  it('says the code abort was called with when it is no exit status, and exits 1', async () => {
    const { result, err, pids } = await launch(2, 'rank.mjs', [mode('abort'), '300']);
    expect(result.exitCode).toBe(1);
    expect(err).toContain(`rank 1 (pid ${pids.get(1)}) called abort with code 300 (exit status 1: not 1 to 255): the input file`);
    expectAllDead(pids, 2);
  }, 20_000);

  it('treats a connected rank that exits 0 without finalize() as a failure', async () => {
    const { result, err } = await launch(2, 'rank.mjs', [mode('no-finalize')]);
    expect(result.exitCode).toBe(1);
    expect(err).toMatch(/rank \d \(pid \d+\) exited without calling finalize\(\); aborting the job/);
  }, 20_000);

  it('aborts cleanly with exit code 130 when options.signal aborts', async () => {
    const controller = new AbortController();
    let pids = new Map<number, number>();
    const { result, err } = await launch(2, 'rank.mjs', [mode('hang')], {
      signal: controller.signal,
      onReady: (job) => {
        void waitFor('both pids', () => job.status().ranks.every((r) => r.state === 'connected')).then(() => {
          pids = new Map(job.pids.map((p, r) => [r, p!]));
          pids.forEach((p) => seenPids.add(p));
          controller.abort();
        });
      },
    });
    expect(result.exitCode).toBe(130);
    expect(err).toContain('the launch was cancelled; aborting the job');
    expectAllDead(pids, 2);
  }, 20_000);

  it('refuses a connection with a wrong secret or a duplicate rank, and the job goes on', async () => {
    const { result, out, err } = await launch(2, 'wrong-secret.mjs');
    expect(result.exitCode).toBe(0);
    expect(out).toContain('REFUSED the launcher refused this connection: wrong job secret');
    expect(out).toContain('DUPLICATE the launcher refused this connection: rank 0 is already connected');
    expect(out).not.toContain('BAD');
    expect(out).toMatch(/^OK 0 2$/m);
    expect(out).toMatch(/^OK 1 2$/m);
    expect(err).toMatch(/rejected an out-of-band connection claiming rank 0 \(pid \d+\): wrong job secret/);
  }, 20_000);

  it('forwards output line by line, with [rank] prefixes under tagOutput, flushing partial last lines', async () => {
    const tagged = await launch(2, 'plain.mjs', [], { tagOutput: true });
    expect(tagged.result.exitCode).toBe(0);
    expect(tagged.out.split('\n').sort()).toEqual(['', '[0] hello from 0', '[0] part-ial 0', '[1] hello from 1', '[1] part-ial 1']);
    expect(tagged.err.split('\n').sort()).toEqual(['', '[0] warning from 0', '[1] warning from 1']);
    const plain = await launch(1, 'plain.mjs');
    expect(plain.out).toBe('hello from 0\npart-ial 0');
    expect(plain.err).toBe('warning from 0\n');
  }, 20_000);

  it('runs a TypeScript rank script through tsx', async () => {
    const { result, out, err } = await launch(2, 'typed-rank.ts');
    expect(err).toBe('');
    expect(result.exitCode).toBe(0);
    expect(out).toContain('TS 0/2: hi from 0, hi from 1');
    expect(out).toContain('TS 1/2: hi from 0, hi from 1');
  }, 20_000);
});

describe('control channel', () => {
  /** Starts `serve` ranks and hands the running job to `body` once every rank said it is ready. */
  async function withServingJob(np: number, silent: number[], body: (job: RunningJob) => Promise<void>) {
    let failure: unknown;
    const launched = await launch(np, 'rank.mjs', [mode('serve'), ...silent.map(String)], {
      onReady: (job) => {
        const ready = new Set<number>();
        job.onNotify((rank) => ready.add(rank));
        void waitFor('every rank ready', () => ready.size === np)
          .then(() => body(job))
          .catch((err) => (failure = err))
          // Whatever happened, end the job: ranks leave on {op:'exit'}, the launcher kills the rest.
          .finally(() => job.request('all', { op: 'exit' }, 2000).catch(() => job.abort('test over', 9)));
      },
    });
    if (failure) throw failure;
    return launched;
  }

  it('sends requests to ranks and collects replies; a timeout or a failing handler names the rank', async () => {
    const { result } = await withServingJob(3, [2], async (job) => {
      const replies = await job.request([1, 0], { op: 'ping' }, 5000);
      expect([...replies]).toEqual([
        [0, { rank: 0, echo: { op: 'ping' } }],
        [1, { rank: 1, echo: { op: 'ping' } }],
      ]);

      const silent = await job.request('all', { op: 'ping' }, 300).catch((e: unknown) => e);
      expect(silent).toBeInstanceOf(RequestError);
      expect((silent as RequestError).message).toBe('control request failed: rank 2 did not answer within 300 ms');
      expect([...(silent as RequestError).replies.keys()]).toEqual([0, 1]);

      await expect(job.request([1], { op: 'fail' }, 5000)).rejects.toThrow('rank 1 failed: rank 1 refuses');
      await expect(job.request([7], {}, 100)).rejects.toThrow(/no rank 7/);
      expect(job.status().ranks.map((r) => r.state)).toEqual(['connected', 'connected', 'connected']);
    });
    expect(result.exitCode).toBe(0);
  }, 20_000);

  it('lets a rank leave (ctl migrate) and come back: it is away meanwhile, requests to it fail at once, the job goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-away-'));
    const go = join(dir, 'go');
    let seen: unknown[] = [];
    try {
      const { result, out, err } = await launch(2, 'rank.mjs', [mode('await-file'), go], {
        onReady: (job) =>
          void (async () => {
            await waitFor('both ranks connected', () => job.status().ranks.every((r) => r.state === 'connected'));
            const tool = await connectTool(job.jobDir);
            try {
              const left = (await tool.call(TOOL_RANK_LEAVE, { rank: 1 })) as LeaveAnswer;
              const failed = await tool.request([1], { op: 'hi' }, 5000).catch((e: unknown) => e);
              const twice = await tool.call(TOOL_RANK_LEAVE, { rank: 1 }).catch((e: unknown) => e);
              seen = [job.status().ranks.map((r) => r.state), (failed as RequestError).codes, (twice as { code?: string }).code];
              expect(existsSync(left.fifos.stdout)).toBe(true);
              await tool.call(TOOL_RANK_RETURN, { rank: 1, pid: left.pid });
              seen.push(job.status().ranks.map((r) => r.state));
            } finally {
              tool.close();
              writeFileSync(go, '1');
            }
          })(),
      });
      expect(err).toBe('');
      expect(result.exitCode).toBe(0);
      expect(seen).toEqual([
        ['connected', 'away'],
        new Map([[1, 'ERR_SWITCHYARD_RANK_DISCONNECTED']]),
        'ERR_SWITCHYARD_MIGRATE_RANK',
        ['connected', 'connected'],
      ]);
      expect(out).toContain('AFTER 1 [{"after":0},{"after":1}]');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('serves tool clients: listJobs finds the job, connectTool sends requests and calls; a wrong secret is refused', async () => {
    const { result, err } = await withServingJob(2, [1], async (job) => {
      const record = listJobs().find((j) => j.jobId === job.jobId);
      expect(record).toMatchObject({ jobId: job.jobId, pid: process.pid, np: 2, socketPath: job.socketPath, jobDir: job.jobDir });

      const tool = await connectTool(job.jobDir);
      try {
        expect(tool.jobId).toBe(job.jobId);
        expect([...(await tool.request([0], { op: 'hi' }, 5000))]).toEqual([[0, { rank: 0, echo: { op: 'hi' } }]]);
        const timedOut = await tool.request('all', { op: 'hi' }, 200).catch((e: unknown) => e);
        expect(timedOut).toBeInstanceOf(RequestError);
        expect((timedOut as RequestError).failures).toEqual(new Map([[1, 'did not answer within 200 ms']]));
        // The kind of each rank's failure crosses the tool protocol as a code.
        expect((timedOut as RequestError).codes).toEqual(new Map([[1, 'ERR_SWITCHYARD_RANK_TIMEOUT']]));
        const status = (await tool.call('status')) as { np: number; ranks: Array<{ state: string }> };
        expect(status.np).toBe(2);
        expect(status.ranks.map((r) => r.state)).toEqual(['connected', 'connected']);
        job.onToolCall('double', (n) => (n as number) * 2);
        expect(await tool.call('double', 21)).toBe(42);
        await expect(tool.call('nope')).rejects.toMatchObject({ code: 'ERR_SWITCHYARD_UNKNOWN_METHOD', message: "unknown method 'nope'" });
        job.onToolCall('refuse', () => {
          throw Object.assign(new Error('not now'), { code: 'ERR_DEMO_REFUSED' });
        });
        await expect(tool.call('refuse')).rejects.toMatchObject({ code: 'ERR_DEMO_REFUSED', message: 'not now' });
      } finally {
        tool.close();
      }
      // Calling on a closed connection: a typed error, whatever its words.
      await expect(tool.call('status')).rejects.toMatchObject({ code: 'ERR_SWITCHYARD_TOOL_CONNECTION_CLOSED' });
      await expect(connectTool({ ...record!, secret: 'guess' })).rejects.toThrow('wrong job secret');

      // The bare protocol, as a non-JS tool would speak it: hello, then a request without an id.
      const responses: Message[] = [];
      const raw = await openOobConnection(job.socketPath, { type: 'hello', role: 'tool', secret: record!.secret }, {
        message: (m) => responses.push(m),
        close: () => {},
      });
      raw.connection.send({ type: 'request', ranks: [0], body: 'raw', timeoutMs: 5000 });
      await waitFor('the raw response', () => responses.length === 1);
      raw.connection.end();
      expect(responses[0]).toEqual({ type: 'response', id: null, ok: true, result: [[0, { rank: 0, echo: 'raw' }]] });
    });
    expect(result.exitCode).toBe(0);
    expect(err).toMatch(/rejected an out-of-band connection from a tool \(pid \d+\): wrong job secret/);
  }, 20_000);
});

describe('the launcher as a process', () => {
  /** Starts test/fixtures/launcher.mjs and resolves once its ranks reported their pids. */
  async function startLauncher(np: number, args: string[]) {
    const child = spawn(process.execPath, [join(FIXTURES, 'launcher.mjs'), String(np), 'rank.mjs', ...args], {
      cwd: FIXTURES,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    seenPids.add(child.pid!);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    await waitFor(`${np} ranks to report`, () => pidsIn(out).size === np, 10_000);
    const jobDir = /^JOBDIR (.*)$/m.exec(out)![1]!;
    return { child, exited, pids: pidsIn(out), jobDir, output: () => ({ out, err }) };
  }

  it('on SIGTERM aborts the job, exits 143 and removes the job dir', async () => {
    const launcher = await startLauncher(3, [mode('hang')]);
    expect(existsSync(launcher.jobDir)).toBe(true);
    launcher.child.kill('SIGTERM');
    expect(await launcher.exited).toEqual({ code: 143, signal: null });
    expect(launcher.output().err).toContain('switchyard run: received SIGTERM; aborting the job');
    expectAllDead(launcher.pids, 3);
    expect(existsSync(launcher.jobDir)).toBe(false);
  }, 20_000);

  it('ends the job as SIGPIPE would when the reader of its output goes away (run ... | head): exit 141, no rank left', async () => {
    const launcher = await startLauncher(2, [mode('chatter')]);
    launcher.child.stdout.destroy();
    expect(await launcher.exited).toEqual({ code: 141, signal: null });
    expect(launcher.output().err).toMatch(/switchyard run: the launcher's standard output was closed \(EPIPE\); aborting the job/);
    expectAllDead(launcher.pids, 2);
    expect(existsSync(launcher.jobDir)).toBe(false);
  }, 20_000);

  it('leaves no orphan when SIGKILLed: ranks see the OOB socket close, remove the job dir (with its secret) and exit', async () => {
    const launcher = await startLauncher(2, [mode('hang')]);
    launcher.child.kill('SIGKILL');
    await launcher.exited;
    await waitFor('ranks of a killed launcher to exit', () => [...launcher.pids.values()].every((p) => !isAlive(p)), 5000);
    expect(existsSync(launcher.jobDir)).toBe(false);
    expect(listJobs().some((j) => j.jobDir === launcher.jobDir)).toBe(false);
  }, 20_000);

  it('listJobs removes the job folder of a gone launcher or a reused pid, not of another pid namespace', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sy-jobs-'));
    try {
      chmodSync(root, 0o700);
      const plant = (name: string, pid: number, pidStart?: string, pidNamespace?: string) => {
        const jobDir = join(root, `job-${name}`);
        mkdirSync(jobDir, { mode: 0o700 });
        const startTime = new Date().toISOString();
        const socketPath = join(jobDir, 'hnp.sock');
        const record = { jobId: name, pid, np: 1, script: 's.mjs', args: [], cwd: '/', startTime, socketPath, jobDir, secret: 'x' };
        const written = { ...record, ...(pidStart === undefined ? {} : { pidStart }), ...(pidNamespace ? { pidNamespace } : {}) };
        writeFileSync(join(jobDir, 'job.json'), JSON.stringify(written), { mode: 0o600 });
        return jobDir;
      };
      const alive = plant('alive', process.pid, processStart(process.pid));
      const gone = plant('gone', 999_999_999);
      // This test process's pid, but not its start: a pid reused after the launcher died.
      const reused = plant('reused', process.pid, '1');
      // A launcher of another pid namespace (a container sharing /tmp): its pid says nothing here.
      const elsewhere = plant('elsewhere', 999_999_999, '1', 'pid:[1]');
      expect(listJobs(root).map((j) => j.jobId).sort()).toEqual(['alive', 'elsewhere']);
      expect([alive, gone, reused, elsewhere].map(existsSync)).toEqual([true, false, false, true]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
