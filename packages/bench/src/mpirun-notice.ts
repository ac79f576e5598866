/**
 * What mpirun last said: its notices stand between lines of dashes, so the last such block is
 * taken whole (a few lines taken from its end began mid-sentence); else its last three lines.
 */
export function lastNotice(stderr: readonly string[]): string {
  const rules = stderr.flatMap((l, i) => (/^-{10,}$/.test(l.trim()) ? [i] : []));
  const lines =
    rules.length >= 2 ? stderr.slice(rules.at(-2)! + 1, rules.at(-1)) : stderr.filter((l) => l.trim() && !/^-+$/.test(l.trim())).slice(-3);
  return lines.map((l) => l.trim()).filter(Boolean).join(' ').replace(/\s+/g, ' ');
}
