import { constants } from 'node:os';
import { writeFileSync } from 'node:fs';
import { compare } from './compare.js';
import { benchFrame } from './command-frame.js';
import { parseBenchArgs } from './options.js';
import { refuseUnknownBtls } from './known-btls.js';
import { sweepStaleBenchDirs } from './temp-dirs.js';
import { buildPhases } from './plan.js';
import { chartPath } from './chart/output.js';
import { renderChart } from './chart/render.js';
import { renderJson, renderText, resultsDocument } from './report.js';
import { runBench } from './run-bench.js';
import type { Command } from '@switchyard/cli-kit';

const USAGE = `Usage: switchyard bench [latency|bandwidth|all] [--btl LIST] [--sizes LIST] [--progress sleep|busy|both]
                       [--iterations-scale F] [--raw LIST] [--ompi] [--ompi-btl LIST] [--json]
                       [--bind-to core|none] [--chart FILE.svg] [--mca KEY VALUE]...
       switchyard bench chart RESULTS.json -o FILE.svg  (draw a saved --json output)
       switchyard bench switch [-n N] [--cycles K] [--verbs LIST] [--json] ...  (see 'switchyard bench switch --help')
       switchyard bench failover [-n N] [--faults K] [--kinds LIST] [--json] ...  (see 'switchyard bench failover --help')
       switchyard bench coll [-n LIST] [--sizes LIST] [--ompi] [--json] ...  (see 'switchyard bench coll --help')
       switchyard bench checkpoint [--np LIST] [--json]  (CRIU save and restore of a job; see its --help)

Measures Switchyard's point-to-point latency and bandwidth between two ranks on this machine,
for each BTL under test, against raw Node baselines run in the same invocation: two plain Node
processes over a TCP loopback socket (raw-node-tcp: TCP_NODELAY, 4-byte LE length + payload
framing, payload read into a preallocated buffer) and, with --raw uds, the same over a Unix
domain socket (raw-node-uds); docs/performance.md describes the workload and the figures.

  latency              ping-pong, half round trip in µs; sizes 0 1 8 64 512 4K 32K 256K 1M 4M
  bandwidth            windows of 64 non-blocking sends, then a 4-byte ack; MB/s (10^6 B/s);
                       sizes 4K 16K 64K 256K 1M 4M
  all                  both (the default)

  --btl LIST           BTLs to measure, comma-separated (default tcp); each runs as a 2-rank job
                       with --mca btl <btl>,self (tcp on 127.0.0.0/8 only)
  --sizes LIST         message sizes for every benchmark, e.g. 0,4k,64k,1m (bandwidth skips 0)
  --progress MODE      sleep: the event loop sleeps while waiting (default); busy: it keeps polling
                       (--mca pml_busy_poll 1; the raw baseline spins a setImmediate chain); both
  --iterations-scale F multiply the iteration counts (latency 20000 up to 4K ... 100 at 4M;
                       bandwidth 400 windows up to 16K ... 10 at 4M) by F, e.g. 0.1 for a quick run
  --raw LIST           the raw Node baselines: tcp (a loopback TCP socket), uds (a connected
                       Unix domain stream socket, made by the bench on a path in a private
                       temporary folder and removed once both peers hold it) or tcp,uds;
                       default tcp, and tcp,uds when --btl includes sm
  --ompi               add Open MPI as a second baseline, in the same invocation: its tcp BTL
                       (ompi-tcp, on lo) and vader (shared memory, a reference column), each a
                       2-rank job of the bench's own mpi_pingpong.c, compiled with mpicc into a
                       private temporary folder and run as
                       mpirun [--allow-run-as-root] --oversubscribe -np 2 --mca pml ob1
                              --mca btl <btl>,self [--mca btl_tcp_if_include lo] [--bind-to ...]
                       Its ranks take their turns batch by batch like the other runs (same sizes,
                       iterations and method) and always busy-poll, in both progress modes; the
                       tables gain ompi-* columns and <btl>/ompi ratios against ompi-tcp (no
                       targets). Needs mpicc and mpirun on PATH (Debian: openmpi-bin
                       libopenmpi-dev); --mca settings are not passed to Open MPI. An Open MPI
                       run that fails once measuring began is left out from there on (its
                       sizes not measured show -, the report and the JSON's "failed" say why)
  --ompi-btl LIST      the Open MPI BTLs to measure: tcp, vader or tcp,vader (implies --ompi;
                       --ompi alone measures both)
  --bind-to core|none  where every run's two processes run, alike for Switchyard, raw Node and
                       Open MPI: core binds each to a core of its own (raw Node's with taskset),
                       none leaves them to the scheduler; default mpirun's, core where there are
                       two cores. The JSON gives each run's cores as its processes saw them
  --json               machine-readable results on stdout (progress stays on stderr); a failed
                       run or a usage error is answered there too: {"ok": false, "outcome":
                       "failed"|"interrupted"|"usage", "code", "message"}
  --chart FILE.svg     also draw the results as an SVG: latency and bandwidth against message size
                       (log scale), one line per run (each BTL, raw, ompi-*; per progress mode)
  --mca KEY VALUE      set an MCA parameter for the Switchyard jobs (repeatable)
  -h, --help           show this help

First a primer: every run does one warm-up step of each size, in order (so the JIT has seen every
kind of message before any is measured). Then each size: every run warms up on its own, a step
of 10% of the iterations (of the default ones above scale 1) at least 10 times, for 0.2 s of its
own time (1 s for the first size: the JIT is still compiling) and for 4,000 messages of the size
(V8 compiles a path that runs once per message over thousands of them), then until its steps stop
getting faster; at most 2 s of its own time in all; then
the timed iterations in 10 equal batches; the median batch is reported. The runs of a mode are
started together and take turns batch by batch, so the numbers compared were measured within the
same seconds (this machine's speed drifts).

Targets, each reported (PASS/MISS, never a failing exit code) only when both its sides ran, in
the same invocation; the summary gives the range measured and the sizes that miss, --json a
"targets" list:
  btl-tcp latency within 1.2x of raw Node TCP; bandwidth at 4 KiB and at 1 MiB and above at
    least 90% of raw Node TCP (also per size in the tables' target column)
  sm busy half round trip at most 1 µs at 0-64 B (--btl sm --progress busy|both)
  sm sleeping latency at most raw-node-uds's at 0-512 B (--btl sm, raw uds)
  sm bandwidth at 1 and 4 MiB at least ompi-vader's (--btl sm --ompi)
  openib bandwidth at least tcp's from 64 KiB up, and latency at most tcp's at every size
    (--btl openib,tcp)
Exit code: 0 when every run completed (an Open MPI baseline left out mid-run aside), 1 on a failed
run (or a --chart it could not write), 2 on a usage error, 128+N on signal N.
`;

export const bench: Command = async (argv, io) => {
  // A reader that went away (`| head`) is no crash: the exit is 141, as SIGPIPE makes a C tool's
  // (a measurement under way is stopped by benchFrame).
  io.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') {
      // A full disk or the like: one line, not an uncaught error's stack; the jobs end with the process group.
      io.stderr.write(`switchyard bench: cannot write its output: ${err.message}\n`);
      process.exit(1);
    }
    // Set on the way out: the error may come after the command returned its own code.
    process.once('exit', () => (process.exitCode = 128 + constants.signals.SIGPIPE));
  });
  sweepStaleBenchDirs();
  // Switching under traffic is a bench of its own, with its own options.
  if (argv[0] === 'switch') return (await import('./switch/command.js')).benchSwitch(argv.slice(1), io);
  if (argv[0] === 'failover') return (await import('./failover/command.js')).benchFailover(argv.slice(1), io);
  if (argv[0] === 'coll') return (await import('./coll/command.js')).benchColl(argv.slice(1), io);
  if (argv[0] === 'checkpoint') return (await import('./checkpoint/command.js')).benchCheckpoint(argv.slice(1), io);
  if (argv[0] === 'chart') return (await import('./chart/command.js')).benchChart(argv.slice(1), io);
  const options = parseBenchArgs(argv);
  if (options.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const chart = options.chart === undefined ? undefined : chartPath(options.chart, io.cwd, '--chart');
  await refuseUnknownBtls(options.btls, { cwd: io.cwd, env: io.env, mca: options.mca });
  return benchFrame('switchyard bench', io, options.json, async ({ display, signal }) => {
    const runs = await runBench(options, { cwd: io.cwd, env: io.env, display, signal });
    const comparisons = compare(runs);
    const phases = buildPhases(options.benchmarks, options.sizes, options.iterationsScale);
    if (options.json) io.stdout.write(renderJson(options, phases, runs, comparisons));
    else io.stdout.write(renderText(options, runs, comparisons));
    if (!chart) return 0;
    try {
      writeFileSync(chart, renderChart(resultsDocument(options, phases, runs, comparisons)));
    } catch (err) {
      // The figures are printed already; only the picture is missing.
      io.stderr.write(`switchyard bench: cannot write the chart to ${chart}: ${(err as Error).message}\n`);
      return 1;
    }
    io.stderr.write(`switchyard bench: chart written to ${chart}\n`);
    return 0;
  });
};
