import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli as run } from './capture.js';

// `switchyard verbs` run in-process (the real command) against a real child process holding a
// soft verbs device open. The child imports btl-openib's dist/, built here.
const ROOT = join(import.meta.dirname, '..', '..', '..');
const cli = (argv: string[]) => run(['verbs', ...argv], { cwd: ROOT });
const HINT = "Run 'switchyard verbs --help' for usage.\n";

describe('switchyard verbs: usage', () => {
  it('prints its help and is listed by switchyard --help', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: switchyard verbs list \[--pid PID\] \[--json\]\n {7}switchyard verbs reset\|fail\|restore --pid PID/);
    for (const action of ['list', 'reset', 'fail', 'restore']) expect(help.stdout).toMatch(new RegExp(`^  ${action} +\\S`, 'm'));
    expect((await run(['--help'], { cwd: ROOT })).stdout).toMatch(/^ {2}verbs +soft verbs devices of running processes/m);
  });

  it.each([
    [[], 'missing ACTION; actions: list, reset, fail, restore'],
    [['pull'], "unknown action 'pull'; actions: list, reset, fail, restore"],
    [['reset'], "reset needs --pid PID (see 'switchyard verbs list')"],
    [['fail', '--pid', 'abc'], "--pid takes a process id (a positive integer), got 'abc'"],
    [['fail', '--pid', '0'], "--pid takes a process id (a positive integer), got '0'"],
    [['fail', '--pid'], "option '--pid' needs a value"],
    [['restore', '--pid', '12', '--device', 'a b'], "--device takes a device name such as soft0, got 'a b'"],
    [['list', '--device', 'soft0'], 'list shows every device; it takes no --device'],
    [['list', '--timeout', '-5'], "--timeout takes a positive number of milliseconds (at most 600000), got '-5'"],
    [['list', 'extra'], "list takes no arguments, got 'extra'"],
    [['list', '--force'], "unknown option '--force'"],
  ])('refuses %j with a usage error', async (argv, message) => {
    expect(await cli(argv)).toEqual({ code: 2, stdout: '', stderr: `switchyard verbs: ${message}\n${HINT}` });
  });

  it('a process that does not exist: exit 1 with the reason, in text and JSON', async () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    expect(await cli(['reset', '--pid', String(gone)])).toEqual({
      code: 1,
      stdout: '',
      stderr: `switchyard verbs: no process with pid ${gone}\n`,
    });
    const json = await cli(['fail', '--pid', String(gone), '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'ERR_SOFT_VERBS_NO_PROCESS', message: `no process with pid ${gone}` } });
    expect(await cli(['list', '--pid', String(gone)])).toEqual({
      code: 1,
      stdout: '',
      stderr: `switchyard verbs: no process with pid ${gone}\n`,
    });
  });
});

describe('switchyard verbs on a process with a soft device open', () => {
  let child: ChildProcess;
  const lines: string[] = [];
  beforeAll(async () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const built = spawnSync(process.execPath, [tsc, '-b', join(ROOT, 'packages', 'btl-openib')], { encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`tsc -b failed:\n${built.stdout}${built.stderr}`);
    // Prints the device's async events; exits when its stdin closes.
    const script = `
      import { createSoftProvider } from '@switchyard/btl-openib';
      const ctx = createSoftProvider().open('soft0', { onAsyncEvent: (e) => console.log(e.type) });
      console.log('ready ' + ctx.queryPort(1).gid);
      process.stdin.on('end', () => { ctx.close(); process.exit(0); }).resume();`;
    child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    await until(() => lines.some((l) => l.startsWith('ready')));
  }, 60_000);
  afterAll(async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT'); // in case a test failed while it was stopped
    child.stdin!.end();
    await exited;
  });

  it('lists it, fails its port, lists it DOWN, restores it; the process sees PORT_ERR then PORT_ACTIVE', async () => {
    const pid = child.pid!;
    const gid = lines[0]!.slice('ready '.length);
    const listed = await cli(['list', '--pid', String(pid)]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')[0]).toMatch(/^PID +DEVICE +PORT +STATE +CONTEXTS +QPS +GID$/);
    expect(listed.stdout.split('\n')[1]).toMatch(new RegExp(`^${pid} +soft0 +1 +ACTIVE +1 +0 +${gid}$`));

    expect(await cli(['fail', '--pid', String(pid)])).toEqual({
      code: 0,
      stdout: `process ${pid}: soft0 port 1 is DOWN (PORT_ERR): its QPs flushed; it stays down until 'switchyard verbs restore --pid ` +
        `${pid}'\n`,
      stderr: '',
    });
    const down = await cli(['list', '--json']);
    expect(JSON.parse(down.stdout)).toContainEqual({
      pid,
      devices: [{ device: 'soft0', gid, port: 1, state: 'DOWN', contexts: 1, queuePairs: 0 }],
    });

    const wrong = await cli(['restore', '--pid', String(pid), '--device', 'mlx5_0']);
    expect(wrong).toEqual({
      code: 1,
      stdout: '',
      stderr: `switchyard verbs: process ${pid} has no soft verbs device 'mlx5_0' (it has soft0)\n`,
    });

    const restored = await cli(['restore', '--pid', String(pid), '--json']);
    expect(restored.code).toBe(0);
    expect(JSON.parse(restored.stdout)).toEqual({
      action: 'restore',
      pid,
      devices: [{ device: 'soft0', gid, port: 1, state: 'ACTIVE', contexts: 1, queuePairs: 0 }],
    });
    await until(() => lines.includes('PORT_ACTIVE'));
    expect(lines.slice(1)).toEqual(['PORT_ERR', 'PORT_ACTIVE']);
  });

  it('a stopped process does not answer: listed with why, exit 1; an action fails with ERR_SOFT_VERBS_TIMEOUT', async () => {
    const pid = child.pid!;
    child.kill('SIGSTOP');
    try {
      const listed = await cli(['list', '--pid', String(pid), '--timeout', '300']);
      expect(listed.code).toBe(1);
      expect(listed.stdout.split('\n')[1]).toMatch(new RegExp(`^${pid} +- +- +- +- +- +\\(process ${pid} did not answer within 300 ms`));
      const reset = await cli(['reset', '--pid', String(pid), '--timeout', '300', '--json']);
      expect(reset.code).toBe(1);
      expect(JSON.parse(reset.stdout).error.code).toBe('ERR_SOFT_VERBS_TIMEOUT');
    } finally {
      child.kill('SIGCONT');
    }
    // It answers again once it runs, its device untouched.
    expect(JSON.parse((await cli(['list', '--pid', String(pid), '--json'])).stdout)).toMatchObject([
      { pid, devices: [{ state: 'ACTIVE', contexts: 1 }] },
    ]);
  });
});

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the child');
    await new Promise((r) => setTimeout(r, 10));
  }
}
