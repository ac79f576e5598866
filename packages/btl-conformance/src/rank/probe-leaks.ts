import { openDescriptors } from './open-descriptors.js';

const PROBES = 3;
const SETTLE_MS = 2000;

const openFiles = () => openDescriptors(true);

/** What `query` run `PROBES` times left open, against `before`, once reads under way elsewhere had time to close. */
async function probeRound(query: () => Promise<unknown>, before: Map<string, string>): Promise<Array<[string, string]>> {
  for (let i = 0; i < PROBES; i++) await query();
  const opened = () => [...(openFiles() ?? new Map<string, string>())].filter(([fd, target]) => before.get(fd) !== target);
  // Reads under way elsewhere in the process (the module loader reading a file it imports) close
  // on their own: only what stays open is the probes'.
  let left = opened();
  for (let waited = 0; left.length && waited < SETTLE_MS; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = opened();
  }
  return left;
}

/**
 * `open` runs as a probe (`switchyard info`, every hot load, the query before a failed module is
 * reloaded) that no `close` follows: the framework's query, run a few times, must leave no file
 * or device open. A component that takes in `open` what `close` releases leaks one per probe, so
 * the probes run in two rounds and a leak must grow in each: a descriptor something else in the
 * rank opened once meanwhile (the runtime, a child's /dev/null) stays in one round only.
 */
export async function probeLeaks(query: () => Promise<unknown>, name: string): Promise<string[]> {
  const before = openFiles();
  if (!before) return [];
  const first = await probeRound(query, before);
  const second = await probeRound(query, new Map([...before, ...first]));
  if (!first.length || !second.length) return [];
  const left = [...first, ...second];
  const shown = left.slice(0, 6).map(([fd, target]) => `fd ${fd} -> ${target}`).join(', ');
  return [`${2 * PROBES} probes of btl ${name} (its open(), as switchyard info and the reload probe call it, never followed by close()) ` +
    `left ${left.length} file descriptor(s) open, more with each round of ${PROBES} (${first.length}, then ${second.length}): ` +
    `${shown}${left.length > 6 ? ', ...' : ''} (open must look, not take)`];
}
