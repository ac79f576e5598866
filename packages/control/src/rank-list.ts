/**
 * `--ranks` lists as Open MPI users write them: `3`, `0,2-5`. Throws naming what is wrong.
 */
export function parseRankList(text: string, size?: number): number[] {
  const ranks = new Set<number>();
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new RangeError(`'${part}' in rank list '${text}' is not a rank or a range (e.g. 3 or 0,2-5)`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new RangeError(`range '${part}' in rank list '${text}' runs backwards`);
    for (let r = from; r <= to; r++) {
      if (size !== undefined && r >= size)
        throw new RangeError(`rank ${r} in rank list '${text}' does not exist: the job has ranks 0-${size - 1}`);
      ranks.add(r);
    }
  }
  return [...ranks].sort((a, b) => a - b);
}

export function formatRankList(ranks: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ranks.length; i++) {
    let j = i;
    while (j + 1 < ranks.length && ranks[j + 1] === ranks[j]! + 1) j++;
    out.push(j > i ? `${ranks[i]}-${ranks[j]}` : `${ranks[i]}`);
    i = j;
  }
  return out.join(',');
}
