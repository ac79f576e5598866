/** The options each verb takes beyond those every verb takes (--job, --controller, --secret-file, --json, --help). */
const VERB_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  jobs: [],
  status: ['--ranks', '--timeout', '--watch', '--interval'],
  switch: ['--ranks', '--timeout'],
  reset: ['--ranks', '--timeout'],
  unload: ['--ranks', '--timeout'],
  load: ['--ranks', '--timeout'],
  apply: ['--mca', '--ranks', '--timeout'],
  checkpoint: ['--timeout', '--leave-running', '--criu'],
};
const COMMON_OPTIONS = ['--job', '--controller', '--secret-file'];
const LAST_OPTIONS = ['--json', '-h'];

const EXIT_CODES: Readonly<Record<string, string>> = {
  jobs: 'Exit codes: 0 listed (none running is not an error); 2 usage error.',
  status: 'Exit codes: 0 every rank answered; 1 a rank did not answer (listed with why), or no job; 2 usage error.',
};
const VERB_EXIT_CODES =
  'Exit codes: 0 done; 1 refused (nothing changed) or failed (the message says where each rank stands); 2 usage error.';

/**
 * `switchyard ctl VERB --help`: the verb's lines of the general help, with the options it takes,
 * so the two never disagree. Undefined for a verb with a help of its own (migrate) or none.
 */
export function verbUsage(usage: string, verb: string): string | undefined {
  const own = VERB_OPTIONS[verb];
  if (!own) return undefined;
  const verbs = entries(section(usage, 'Verbs:'), /^ {2}\S/).filter((e) => e.split(/\s/, 3)[2] === verb);
  const options = entries(section(usage, 'Options:'), /^ {2}-/);
  const pick = (name: string) => options.find((e) => e.trimStart().split(/[\s,]/, 1)[0] === name);
  // jobs lists what this user runs: it talks to no job.
  const reach = verb === 'jobs' ? [] : COMMON_OPTIONS;
  const chosen = [...reach, ...own, ...LAST_OPTIONS].flatMap((name) => pick(name) ?? []);
  const prefix = verb === 'jobs' ? 'switchyard ctl' : 'switchyard ctl [--job ID]';
  const heads = verbs.map((e) => e.trim().split(/\s{2,}/, 1)[0]!);
  return (
    `${heads.map((h, i) => `${i ? '       ' : 'Usage: '}${prefix} ${h}${own.length ? ' [OPTIONS]' : ''}`).join('\n')}\n\n` +
    `${verbs.join('\n')}\n\nOptions:\n${chosen.join('\n')}\n\n${EXIT_CODES[verb] ?? VERB_EXIT_CODES}\n` +
    "Every verb: 'switchyard ctl --help'.\n"
  );
}

/** The lines after `title` up to the next blank line. */
function section(text: string, title: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(title) + 1;
  const end = lines.indexOf('', start);
  return lines.slice(start, end < 0 ? undefined : end);
}

/** Lines grouped into entries: one starts where `head` matches, its continuation lines follow. */
function entries(lines: readonly string[], head: RegExp): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (head.test(line) || !out.length) out.push(line);
    else out[out.length - 1] += `\n${line}`;
  }
  return out;
}
