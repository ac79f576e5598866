/** The collectives `switchyard bench coll` measures, in the order it reports them. */
export const COLLECTIVES = ['allreduce', 'bcast', 'allgather', 'alltoall'] as const;
export type Collective = (typeof COLLECTIVES)[number];

/** One measurement: a collective at a size (bytes per rank, see `mpi_coll.c`). */
export interface CollCase {
  readonly coll: Collective;
  readonly size: number;
}

/** What a rank 0 reports per case, on a line `COLL <json>` (Switchyard's rank program and mpi_coll.c alike). */
export interface CollFigure extends CollCase {
  readonly np: number;
  /** Median batch of the slowest rank's time per operation, in µs. */
  readonly us: number;
}

export const FIGURE_PREFIX = 'COLL ';

/** 8-byte allreduces both programs run before the first case (mpi_coll.c: WARMUP_OPS). */
export const WARMUP_OPS = 2000;

/** Batches per case: the median is reported. Both programs use the same count. */
export const BATCHES = 5;

/** Iterations of a case at `size` (as mpi_coll.c computes them): fewer for larger messages. */
export function iterationsFor(size: number, scale: number): number {
  const base = size <= 1024 ? 1000 : size <= 65536 ? 100 : 10;
  return Math.max(BATCHES, Math.floor(base * scale));
}

/** `allreduce:8,bcast:65536`: the cases as both programs take them on their command line. */
export function encodeCases(cases: readonly CollCase[]): string {
  return cases.map((c) => `${c.coll}:${c.size}`).join(',');
}

export function decodeCases(text: string): CollCase[] {
  return text.split(',').map((item) => {
    const [coll, size] = item.split(':');
    if (!(COLLECTIVES as readonly string[]).includes(coll!) || !/^\d+$/.test(size ?? '')) throw new Error(`bad case '${item}'`);
    return { coll: coll as Collective, size: Number(size) };
  });
}

/** A `COLL <json>` line as a figure, or undefined for any other line. */
export function parseFigure(line: string): CollFigure | undefined {
  if (!line.startsWith(FIGURE_PREFIX)) return undefined;
  const f = JSON.parse(line.slice(FIGURE_PREFIX.length)) as CollFigure;
  return f;
}
