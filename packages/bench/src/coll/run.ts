import type { OmpiProgram } from '../ompi-program.js';
import { runUnderMpirun } from '../run-ompi.js';
import type { RunContext } from '../run-context.js';
import { runBenchJob, switchyardMca } from '../run-switchyard.js';
import { encodeCases, parseFigure, type CollCase, type CollFigure } from './cases.js';

/** Collects the figures of one run, as its rank 0 printed them; other lines go to `ctx.onOutput`. */
function figureLines(ctx: RunContext, figures: CollFigure[], onFigure: (f: CollFigure) => void): (line: string) => void {
  return (line) => {
    const figure = parseFigure(line);
    if (!figure) return ctx.onOutput(line);
    figures.push(figure);
    onFigure(figure);
  };
}

/** The cases as an `np`-rank Switchyard job over tcp (with self, on loopback), through the embedded launcher. */
export async function runSwitchyardColl(
  np: number,
  cases: readonly CollCase[],
  scale: number,
  userMca: ReadonlyArray<readonly [string, string]>,
  ctx: RunContext,
  onFigure: (f: CollFigure) => void,
): Promise<CollFigure[]> {
  const figures: CollFigure[] = [];
  const job = { np, program: 'coll/rank', args: [String(scale), encodeCases(cases)], label: `${np}-rank switchyard-tcp` } as const;
  await runBenchJob(job, switchyardMca('tcp', 'sleep', userMca), figureLines(ctx, figures, onFigure), ctx);
  return figures;
}

/** mpirun's options for the Open MPI baseline: ob1 over tcp (with self) on lo, its tuned collectives. */
export function ompiCollArgs(np: number): string[] {
  return [
    ...(process.getuid?.() === 0 ? ['--allow-run-as-root'] : []),
    '--oversubscribe',
    '-np',
    String(np),
    '--mca',
    'pml',
    'ob1',
    '--mca',
    'btl',
    'tcp,self',
    '--mca',
    'btl_tcp_if_include',
    'lo',
  ];
}

/** The cases as an `np`-rank Open MPI job of mpi_coll. */
export async function runOmpiColl(
  np: number,
  cases: readonly CollCase[],
  scale: number,
  ompi: OmpiProgram,
  ctx: RunContext,
  onFigure: (f: CollFigure) => void,
): Promise<CollFigure[]> {
  const figures: CollFigure[] = [];
  const args = [...ompiCollArgs(np), ompi.program, String(scale), encodeCases(cases)];
  const own: RunContext = { ...ctx, onOutput: figureLines(ctx, figures, onFigure) };
  await runUnderMpirun(ompi.mpirun, args, `the ${np}-rank Open MPI run (mpirun ${ompiCollArgs(np).join(' ')})`, 'mpi_coll', own);
  return figures;
}
