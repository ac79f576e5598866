import type { Command } from '@switchyard/cli-kit';
import { benchFrame } from '../command-frame.js';
import { DEVICE_RECOVERY_INTERVAL_MS, FAILOVER_RECOVERY_INTERVAL_MS, FAULT_KIND_NAMES } from './kinds.js';
import { DEFAULT_FAULTS, DEFAULT_INTERVAL_MS, DEFAULT_NP, MIN_INTERVAL_MS, parseFailoverArgs } from './options.js';
import { renderJson, renderText } from './report.js';
import { OBSERVE_MS, runFailoverBench } from './run.js';
import { MAX_COST, RECOVERY_P50_MS, summarizeFailover } from './summary.js';
import { subBenchmark } from '../sub-usage.js';

const USAGE = `Usage: switchyard bench failover [-n N] [--faults K] [--interval MS] [--kinds LIST]
                                [--iterations-scale F] [--json] [--mca KEY VALUE]...

Measures failover: N ranks on this machine stream numbered messages all-to-all (as in 'switchyard
bench switch': every message checked for order and content) while faults are injected from
outside the job, the way the real fault happens, one job per fault kind:

  tcp-reset            tcp alone (--mca btl tcp,self); every tcp connection between the ranks
                       reset with ss -K: the ranks reconnect and send again what was lost
  tcp-reset-failover   tcp preferred, openib (soft provider) loaded beside it; tcp connections
                       reset with ss -K: traffic fails over to openib, tcp comes back after
                       bml_recovery_interval (${FAILOVER_RECOVERY_INTERVAL_MS} ms here)
  device-reset         openib (soft) carries the traffic, tcp loaded; one rank's soft verbs
                       device reset (as 'switchyard verbs reset --pid' does), a different rank
                       each time: traffic fails over to tcp, and the rank reloads openib by
                       itself after bml_recovery_interval (${DEVICE_RECOVERY_INTERVAL_MS} ms here)

Before the next fault the bench waits for the job to have the faulted transport back on every
link ('ctl status'), and reports how long that took.

Reported per kind: the faults, the time from each to every rank's flow going again (the end of
the longest pause overlapping the ${OBSERVE_MS} ms after it; p50, p99), the longest such pause, and
messages lost, duplicated, reordered or damaged; a row per rank with what it sent and received.
Then the steady-state cost of the protection: tcp latency at 0 B and bandwidth at 4 KiB with
--mca pml_failover true and false (the 'switchyard bench' workload, the two runs taking turns).

  -n, --np N             ranks (default ${DEFAULT_NP}, from 2 to 64)
  --faults K             faults per kind (default ${DEFAULT_FAULTS})
  --interval MS          time from one fault to the next, and before the first and after the
                         last (default ${DEFAULT_INTERVAL_MS}, at least ${MIN_INTERVAL_MS})
  --kinds LIST           fault kinds, comma-separated (default ${FAULT_KIND_NAMES.join(',')})
  --iterations-scale F   multiply the cost measurement's iterations by F (e.g. 0.1: quicker)
  --json                 machine-readable results on stdout (progress stays on stderr)
  --mca KEY VALUE        set an MCA parameter for every job (repeatable; not btl or pml_failover,
                         which the bench sets)
  -h, --help             show this help

A kind that cannot run here is skipped, saying why: resetting TCP connections from outside
needs root (ss -K); device faults need @switchyard/btl-openib (an optional dependency).
Targets (reported as PASS/MISS, never a failing exit code): recovery p50 under ${RECOVERY_P50_MS} ms; the
protection costing under ${MAX_COST * 100}% of latency and of bandwidth. Zero loss is required.
Exit code: 0 when every kind that was not skipped ran to the end and no message was lost,
duplicated, reordered or damaged; 1 on a failed run or any such message; 2 on a usage error;
128+N on signal N.
`;

export const benchFailover: Command = subBenchmark('failover', async (argv, io) => {
  const options = parseFailoverArgs(argv);
  if (options.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  return benchFrame('switchyard bench failover', io, options.json, async ({ display, signal }) => {
    const run = await runFailoverBench(options, { cwd: io.cwd, env: io.env, display, signal });
    display.clear();
    const summary = summarizeFailover(run);
    io.stdout.write(options.json ? renderJson(options, run, summary) : renderText(options, run, summary));
    for (const k of summary.kinds) {
      if (k.skipped) io.stderr.write(`switchyard bench failover: ${k.kind} skipped: ${k.skipped}\n`);
      if (k.error) io.stderr.write(`switchyard bench failover: ${k.kind}: ${k.error}\n`);
    }
    if (summary.cost.error) io.stderr.write(`switchyard bench failover: the cost measurement failed: ${summary.cost.error}\n`);
    const lossy = summary.targets.some((t) => t.required && t.pass === false);
    if (lossy) io.stderr.write('switchyard bench failover: messages were lost, duplicated, reordered or damaged\n');
    return summary.complete && !lossy ? 0 : 1;
  });
});
