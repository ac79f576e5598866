import {
  type Command, type CommandIO, HELP_OPTION, isAlive, JSON_OPTION, type OptionSpec, parseArgs, UsageError,
} from '@switchyard/cli-kit';

import { importOwnPackage } from '../own-package.js';

type Admin = typeof import('@switchyard/btl-openib/admin');
type SoftVerbsProcess = Awaited<ReturnType<Admin['listSoftDevices']>>[number];

const USAGE = `Usage: switchyard verbs list [--pid PID] [--json]
       switchyard verbs reset|fail|restore --pid PID [--device NAME] [--json]

The operator's side of the software verbs devices (btl-openib's 'soft' provider) in running
processes of this user (of every user, as root): what pulling a cable or resetting an HCA does
to real hardware, done to one process from outside it.

Actions:
  list      every process with a soft device open or a port down: pid, device, port state, GID
  reset     device reset (what a VM snapshot or migration does): every QP to ERROR, registrations
            gone, open contexts fail with EIO (DEVICE_FATAL); the next open gets a new GID
  fail      the port goes DOWN (PORT_ERR; QPs to ERROR, posts fail) and stays down: openib
            cannot be loaded in that process until restore
  restore   the port is ACTIVE again: a new open (ctl load openib) works

Peers notice as with RC queue pairs: their work to the process completes with RETRY_EXC_ERR once
the retries run out (btl_openib_ib_retry_count x the ib_timeout ack timeout).

Options:
  --pid PID        the process (list: show only it)
  --device NAME    the device (default soft0)
  --timeout MS     how long the process gets to answer (default 5000)
  --json           machine-readable output (errors too: { "error": { "code", "message" } })
  -h, --help       show this help

Exit status: 0 done; 1 refused or failed (no such process or device, no answer; list: a process
that did not answer, listed with why); 2 bad usage (unknown action or option, bad value).
`;

const PID_OPTION: OptionSpec = { name: 'pid', arity: 1 };
const DEVICE_OPTION: OptionSpec = { name: 'device', arity: 1 };
const TIMEOUT_OPTION: OptionSpec = { name: 'timeout', arity: 1 };
const ACTIONS = ['list', 'reset', 'fail', 'restore'] as const;
type Action = (typeof ACTIONS)[number];

export const verbs: Command = async (argv, io) => {
  const args = parseArgs(argv, [PID_OPTION, DEVICE_OPTION, TIMEOUT_OPTION, JSON_OPTION, HELP_OPTION]);
  if (args.options.get('help')) {
    io.stdout.write(USAGE);
    return 0;
  }
  const [name, ...rest] = args.positionals;
  if (name === undefined) throw new UsageError(`missing ACTION; actions: ${ACTIONS.join(', ')}`);
  if (!(ACTIONS as readonly string[]).includes(name)) throw new UsageError(`unknown action '${name}'; actions: ${ACTIONS.join(', ')}`);
  if (rest.length) throw new UsageError(`${name} takes no arguments, got '${rest.join(' ')}'`);
  const action = name as Action;
  const json = args.options.get('json') === true;
  const pidText = args.options.get('pid') as string | undefined;
  const pid = pidText === undefined ? undefined : parsePid(pidText);
  const device = args.options.get('device') as string | undefined;
  const timeoutMs = parseTimeout(args.options.get('timeout') as string | undefined);
  if (action === 'list' && device !== undefined) throw new UsageError('list shows every device; it takes no --device');
  if (action !== 'list' && pid === undefined) throw new UsageError(`${action} needs --pid PID (see 'switchyard verbs list')`);
  if (device !== undefined && !/^[A-Za-z0-9_.-]+$/.test(device)) throw new UsageError(`--device takes a device name such as soft0, got '${device}'`);

  const admin = await loadAdmin(io, json);
  if (!admin) return 1;
  try {
    if (action === 'list') {
      const all = await admin.listSoftDevices({ timeoutMs });
      const shown = pid === undefined ? all : all.filter((p) => p.pid === pid);
      // As reset, fail and restore: a pid with no process is said so, not listed as one without devices.
      if (pid !== undefined && !shown.length && !isAlive(pid)) {
        return failure(io, json, 'ERR_SOFT_VERBS_NO_PROCESS', `no process with pid ${pid}`);
      }
      io.stdout.write(json ? `${JSON.stringify(shown, null, 2)}\n` : renderList(shown, pid));
      // As ctl status: a process that did not answer is listed with why, and the exit status says so.
      return shown.some((p) => p.error) ? 1 : 0;
    }
    const result = await admin.controlSoftDevice(pid!, action, device ?? 'soft0', { timeoutMs });
    io.stdout.write(json ? `${JSON.stringify({ action, ...result }, null, 2)}\n` : renderAction(action, result));
    return 0;
  } catch (err) {
    if (!(err instanceof admin.SoftVerbsAdminError)) throw err;
    return failure(io, json, err.code, err.message);
  }
};

/** btl-openib is an optional dependency: without it there are no soft devices to talk to. */
async function loadAdmin(io: CommandIO, json: boolean): Promise<Admin | undefined> {
  let why = 'not found beside this installation of Switchyard';
  try {
    const admin = await importOwnPackage<Admin>('@switchyard/btl-openib/admin');
    if (admin) return admin;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw err;
    why = (err as Error).message;
  }
  failure(io, json, 'ERR_BTL_OPENIB_NOT_INSTALLED', `@switchyard/btl-openib is not installed (it provides the soft verbs devices): ${why}`);
  return undefined;
}

function failure(io: CommandIO, json: boolean, code: string, message: string): number {
  if (json) io.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`);
  io.stderr.write(`switchyard verbs: ${message}\n`);
  return 1;
}

function parsePid(text: string): number {
  const pid = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(pid) || pid < 1 || pid > 0x7fff_ffff)
    throw new UsageError(`--pid takes a process id (a positive integer), got '${text}'`);
  return pid;
}

function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 1 || ms > 600_000)
    throw new UsageError(`--timeout takes a positive number of milliseconds (at most 600000), got '${text}'`);
  return ms;
}

function renderList(processes: readonly SoftVerbsProcess[], pid: number | undefined): string {
  if (!processes.length)
    return pid === undefined ? 'no process has a soft verbs device open\n' : `process ${pid} has no soft verbs device open\n`;
  const rows = [['PID', 'DEVICE', 'PORT', 'STATE', 'CONTEXTS', 'QPS', 'GID']];
  for (const p of processes) {
    if (p.error) rows.push([String(p.pid), '-', '-', '-', '-', '-', `(${p.error.message})`]);
    for (const d of p.devices)
      rows.push([String(p.pid), d.device, String(d.port), d.state, String(d.contexts), String(d.queuePairs), d.gid ?? '-']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

function renderAction(action: Exclude<Action, 'list'>, result: SoftVerbsProcess): string {
  return result.devices
    .map((d) => {
      const where = `process ${result.pid}: ${d.device}`;
      switch (action) {
        case 'reset':
          return `${where} was reset: its contexts failed (DEVICE_FATAL), its QPs flushed; the next open gets a new GID\n`;
        case 'fail':
          return `${where} port ${d.port} is ${d.state} (PORT_ERR): its QPs flushed; it stays down until 'switchyard verbs restore --pid ` +
            `${result.pid}'\n`;
        case 'restore':
          return `${where} port ${d.port} is ${d.state}: a new open works${d.contexts ? '; QPs in ERROR stay there' : ''}\n`;
      }
    })
    .join('');
}
