import type { Command } from '@switchyard/cli-kit';
import { benchFrame } from '../command-frame.js';
import { DEFAULT_CYCLES, DEFAULT_GAP_MS, DEFAULT_NP, DEFAULT_VERBS, parseSwitchArgs } from './options.js';
import { renderJson, renderText } from './report.js';
import { runSwitchBench } from './run.js';
import { MAX_PAUSE_MS, summarize, SWITCH_P50_MS, UNLOAD_LOAD_P50_MS } from './summary.js';
import { subBenchmark } from '../sub-usage.js';

const USAGE = `Usage: switchyard bench switch [-n N] [--cycles K] [--verbs LIST] [--gap MS] [--json] [--mca KEY VALUE]...

Measures switching transports under traffic. N ranks on this machine stream numbered messages
all-to-all (small eager ones, every 16th a 128 KiB rendezvous one; ANY_SOURCE receives, each
message checked for order and content) while the control verbs run in a cycle, driven by the
job's coordinator in this process as 'switchyard ctl' would. Reported per verb: the time from
command to completion (p50, p99, max) and the longest pause in any rank's message flow while it
ran; overall: the longest pause, throughput during and outside verbs, lost/duplicated/reordered
messages.

  -n, --np N        ranks (default ${DEFAULT_NP}, from 2 to 64)
  --cycles K        how many times to run the cycle of verbs (default ${DEFAULT_CYCLES})
  --verbs LIST      the cycle, verbs as 'switchyard ctl' takes them, separated by commas or
                    semicolons (default '${DEFAULT_VERBS}');
                    'switch tcp,openib' and '--ranks 0,2-3' keep their commas
  --gap MS          traffic-only time before each verb and after the last (default ${DEFAULT_GAP_MS})
  --json            machine-readable results on stdout (progress stays on stderr)
  --mca KEY VALUE   set an MCA parameter for the job (repeatable); the defaults are
                    --mca btl openib,tcp,self --mca btl_openib_provider soft
                    --mca btl_tcp_if_include 127.0.0.0/8 (each unless given)
  -h, --help        show this help

Targets (reported as PASS/MISS, never a failing exit code): switch p50 under ${SWITCH_P50_MS} ms; unload
plus load p50 under ${UNLOAD_LOAD_P50_MS} ms; no pause longer than ${MAX_PAUSE_MS} ms. Zero loss is required.
Exit code: 0 when the run completed and no message was lost, duplicated, reordered or damaged;
1 when a verb was refused or failed, a job failed or any such message; 2 on a usage error;
128+N on signal N.
`;

export const benchSwitch: Command = subBenchmark('switch', async (argv, io) => {
  const options = parseSwitchArgs(argv);
  if (options.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  return benchFrame('switchyard bench switch', io, options.json, async ({ display, signal }) => {
    const run = await runSwitchBench(options, { cwd: io.cwd, env: io.env, display, signal });
    display.clear();
    const summary = summarize(options.verbs, run.runs, run.order, run.ranks);
    io.stdout.write(options.json ? renderJson(options, run, summary) : renderText(options, run, summary));
    if (run.verbFailure) io.stderr.write(`switchyard bench switch: ${run.verbFailure}\n`);
    const lossy = summary.targets.some((t) => t.required && t.pass !== true);
    if (lossy) io.stderr.write('switchyard bench switch: messages were lost, duplicated, reordered or damaged\n');
    return run.verbFailure || lossy ? 1 : 0;
  });
});
