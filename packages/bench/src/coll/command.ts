import type { Command } from '@switchyard/cli-kit';
import { benchFrame } from '../command-frame.js';
import { interrupted } from '../errors.js';
import { prepareOmpi } from '../ompi-program.js';
import { formatSize } from '../sizes.js';
import { BATCHES, COLLECTIVES, WARMUP_OPS, type CollCase, type CollFigure } from './cases.js';
import { DEFAULT_NPS, DEFAULT_SIZES, parseCollArgs } from './options.js';
import { collRows, renderCollJson, renderCollText, TARGET_NP, TARGET_RATIO } from './report.js';
import { runOmpiColl, runSwitchyardColl } from './run.js';
import { subBenchmark } from '../sub-usage.js';

const USAGE = `Usage: switchyard bench coll [-n LIST] [--sizes LIST] [--colls LIST] [--iterations-scale F]
                            [--ompi] [--json] [--mca KEY VALUE]...

Measures Switchyard's collectives over tcp (with self, on loopback) on N ranks of this machine:
${COLLECTIVES.join(', ')}, and with --ompi Open MPI's (its tuned collectives, ob1 over tcp) in
the same invocation, one job after the other for each rank count.

SIZE is bytes per rank: the buffer of allreduce (doubles, summed) and bcast (from rank 0), each
rank's block for allgather, the block to each rank for alltoall (as the OSU benchmarks count).
A job first runs ${WARMUP_OPS} 8-byte allreduces (both programs: V8 optimizes the message path
after about a thousand calls). Each case: a tenth of its iterations as warm-up, then ${BATCHES}
batches, each after a barrier (1000 iterations up to 1K, 100 up to 64K, 10 above, times
--iterations-scale); a batch counts the slowest rank's time per operation; the median batch is
reported, in µs.

  -n, --np LIST         rank counts, comma-separated (default ${DEFAULT_NPS.join(',')})
  --sizes LIST          sizes, multiples of 8 bytes (default ${DEFAULT_SIZES.map(formatSize).join(',')})
  --colls LIST          collectives (default ${COLLECTIVES.join(',')})
  --iterations-scale F  multiply the iterations by F (e.g. 0.1 for a quick run)
  --ompi                add Open MPI beside: bench-native/mpi_coll.c compiled with mpicc into a
                        private temporary folder and run as mpirun [--allow-run-as-root]
                        --oversubscribe -np N --mca pml ob1 --mca btl tcp,self
                        --mca btl_tcp_if_include lo (needs mpicc and mpirun on PATH)
  --json                machine-readable results on stdout (progress stays on stderr)
  --mca KEY VALUE       set an MCA parameter for the Switchyard jobs (repeatable; not btl)
  -h, --help            show this help

Target (reported as PASS/MISS, never a failing exit code): within ${TARGET_RATIO}x of Open MPI's tcp
figures at ${TARGET_NP} ranks. docs/performance.md has the figures and where the gaps come from.
Exit code: 0 when every run completed, 1 on a failed run, 2 on a usage error, 128+N on signal N.
`;

export const benchColl: Command = subBenchmark('coll', async (argv, io) => {
  const options = parseCollArgs(argv);
  if (options.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const cases: CollCase[] = options.colls.flatMap((coll) => options.sizes.map((size) => ({ coll, size })));
  return benchFrame('switchyard bench coll', io, options.json, async ({ display, signal }) => {
    const ctx = { cwd: io.cwd, env: io.env, signal, onOutput: (line: string) => display.log(line) };
    const shown = (who: string) => (f: CollFigure) => display.phase(`${who} ${f.np} ranks: ${f.coll} ${formatSize(f.size)}: ${f.us} µs`);
    const ompi = options.ompi ? await prepareOmpi(io.env, signal, 'mpi_coll') : undefined;
    try {
      const switchyard: CollFigure[] = [];
      const theirs: CollFigure[] = [];
      for (const np of options.nps) {
        display.phase(`switchyard-tcp, ${np} ranks`);
        switchyard.push(...(await runSwitchyardColl(np, cases, options.iterationsScale, options.mca, ctx, shown('switchyard-tcp'))));
        if (ompi && !signal.aborted) {
          display.phase(`ompi-tcp, ${np} ranks`);
          theirs.push(...(await runOmpiColl(np, cases, options.iterationsScale, ompi, ctx, shown('ompi-tcp'))));
        }
      }
      display.clear();
      const stopped = interrupted(signal);
      if (stopped) throw stopped;
      const rows = collRows(switchyard, theirs);
      io.stdout.write(options.json ? renderCollJson(options, rows) : renderCollText(options, rows));
      return 0;
    } finally {
      ompi?.dispose();
    }
  });
});
