import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { dumpTree, hostNetns, netnsOf, probeCriu, restoreTree } from '@switchyard/control';
import { alive } from '../helpers/run-job.js';
import { describeOnCluster } from './helpers/gate.js';
import { HOSTS } from './helpers/vcluster.js';

// The first step of moving a rank to another host (`ctl migrate`, issue 14): one process saved
// alone with CRIU in the network namespace of node1 (sy-h1) and restored in node2's (sy-h2):
// the same pid, its memory kept, its listening socket now answering at node2's address. Needs
// CRIU 4.2+ (scripts/get-criu.sh) besides the cluster; CI has both.
const PORT = 7411;
const criu = probeCriu();
const criuMissing = criu.problem !== undefined && !process.env.CI;

let scratch: string | undefined;
let pid: number | undefined;
afterEach(() => {
  if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  pid = scratch = undefined;
});

/** What the process at HOST:PORT answers, asked from inside network namespace `from`. */
function ask(from: string, host: string): string {
  const client = `require('net').connect(${PORT}, '${host}').on('data', (d) => process.stdout.write(d))`;
  return execFileSync('nsenter', [`--net=${hostNetns(from)}`, process.execPath, '-e', client], { timeout: 10_000 }).toString();
}

describeOnCluster('one process moved to another host with CRIU', () => {
  it.skipIf(criuMissing)('saved in sy-h1, restored in sy-h2: same pid, same memory, answering at node2', async () => {
    expect(criu.problem).toBeUndefined();
    scratch = mkdtempSync(join(tmpdir(), 'sy-migrate-'));
    const ready = join(scratch, 'ready');
    // Bound to every address: the restore binds it again in the namespace it comes back in.
    const server =
      `let n = 0; require('net').createServer((c) => c.end(process.pid + ' ' + ++n))` +
      `.listen(${PORT}, '0.0.0.0', () => require('fs').writeFileSync(${JSON.stringify(ready)}, '1'))`;
    const child = spawn('nsenter', [`--net=${hostNetns('sy-h1')}`, process.execPath, '-e', server], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, UV_USE_IO_URING: '0' },
    });
    // nsenter execs node: the child is the process that moves.
    pid = child.pid!;
    const deadline = Date.now() + 30_000;
    while (!existsSync(ready) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(ask('sy-h2', HOSTS.node1)).toBe(`${pid} 1`);

    const images = join(scratch, 'images');
    mkdirSync(images);
    await dumpTree({ criu: criu.path!, pid, imagesDir: images, leaveRunning: false, shellJob: false, outside: [], netns: netnsOf(pid) });
    // CRIU restores the same pid: it must be free again (the dumped process's zombie collected).
    while (existsSync(`/proc/${pid}`)) await new Promise((r) => setTimeout(r, 100));
    await restoreTree({ criu: criu.path!, imagesDir: images, shellJob: false, inherit: [], netns: hostNetns('sy-h2') });

    expect(statSync(`/proc/${pid}/ns/net`).ino).toBe(statSync(hostNetns('sy-h2')).ino);
    expect(ask('sy-h1', HOSTS.node2)).toBe(`${pid} 2`);
  }, 120_000);

  it('refuses a host that is no network namespace, naming those there are', () => {
    expect(() => hostNetns('node9')).toThrow(expect.objectContaining({ code: 'ERR_SWITCHYARD_MIGRATE_HOST' }));
    expect(() => hostNetns('node9')).toThrow(/no host 'node9': a host is a network namespace \(network namespaces here: .*sy-h1, sy-h2/);
  });
});
