import { describe, expect, it } from 'vitest';
import { HELP_OPTION, mcaPairs, parseArgs, UsageError, type OptionSpec } from '../src/args.js';

const SPECS: OptionSpec[] = [
  { name: 'np', short: 'n', arity: 1 },
  { name: 'mca', arity: 2, repeat: true },
  { name: 'x', short: 'x', arity: 1, repeat: true },
  { name: 'tag-output', arity: 0 },
];

const parse = (argv: string[]) => parseArgs(argv, SPECS, true);

describe("parseArgs: Open MPI's one-dash long options", () => {
  it.each([
    [['-np', '4', 'app.mjs']],
    [['-np=4', 'app.mjs']],
    [['--np', '4', 'app.mjs']],
    [['--np=4', 'app.mjs']],
    [['-n', '4', 'app.mjs']],
    [['-n4', 'app.mjs']],
  ])('%j is 4 ranks', (argv) => {
    const parsed = parse(argv);
    expect(parsed.options.get('np')).toBe('4');
    expect(parsed.positionals).toEqual(['app.mjs']);
  });

  it('takes -mca KEY VALUE, -tag-output and -x VAR, -xVAR=VALUE; the script keeps its own options', () => {
    const parsed = parse(['-mca', 'btl', 'tcp,self', '-tag-output', '-x', 'FOO', '-xBAR=1', 'app.mjs', '-np', '9']);
    expect(parsed.options.get('mca')).toEqual([['btl', 'tcp,self']]);
    expect(parsed.options.get('tag-output')).toBe(true);
    expect(parsed.options.get('x')).toEqual(['FOO', 'BAR=1']);
    expect(parsed.positionals).toEqual(['app.mjs', '-np', '9']);
  });

  it('names the option as it was spelled when its value is missing', () => {
    expect(() => parse(['-mca', 'btl'])).toThrow(new UsageError("option '-mca' needs two values: -mca KEY VALUE"));
    expect(() => parse(['-np'])).toThrow(new UsageError("option '-np' needs a value"));
    expect(() => parse(['-tag-output=yes'])).toThrow(new UsageError("option '-tag-output' takes no value"));
  });

  it('refuses an option given twice with two values, which one was meant cannot be guessed; the same value twice is fine', () => {
    expect(() => parse(['-n', '2', '-np', '3', 'app.mjs'])).toThrow(
      new UsageError(`option '-np' is given twice ("2", then "3"); give it once`),
    );
    expect(parse(['-n', '2', '--np=2', '--tag-output', '--tag-output', 'app.mjs']).options.get('np')).toBe('2');
  });

  it("answers an option the verb does not take with the hint it is given for it, also in Open MPI's one-dash spelling", () => {
    const hints = { host: 'use mpirun', hostfile: 'use mpirun' };
    const specs: OptionSpec[] = [{ name: 'np', short: 'n', arity: 1 }, HELP_OPTION];
    const refusal = (argv: string[]) => () => parseArgs(argv, specs, true, hints);
    expect(refusal(['-host', 'a,b', 'app.mjs'])).toThrow(new UsageError("unknown option '-host': use mpirun"));
    expect(refusal(['--hostfile=h', 'app.mjs'])).toThrow(new UsageError("unknown option '--hostfile': use mpirun"));
    expect(parseArgs(['app.mjs', '--host', 'a'], specs, true, hints).positionals).toEqual(['app.mjs', '--host', 'a']);
  });
});

describe('mcaPairs', () => {
  it('keeps the pairs in order; the same parameter twice with different values is a usage error, as in Open MPI', () => {
    expect(mcaPairs(parse(['--mca', 'btl', 'tcp,self', '-mca', 'pml_failover', '0', 'app.mjs']))).toEqual([
      ['btl', 'tcp,self'],
      ['pml_failover', '0'],
    ]);
    expect(mcaPairs(parse(['--mca', 'btl', 'tcp', '--mca', 'btl', 'tcp', 'app.mjs']))).toEqual([['btl', 'tcp'], ['btl', 'tcp']]);
    expect(() => mcaPairs(parse(['--mca', 'btl', 'tcp,self', '--mca', 'btl', '', 'app.mjs']))).toThrow(
      new UsageError(`MCA parameter 'btl' is given twice on the command line (--mca btl "tcp,self", then --mca btl ""); give it once`),
    );
  });
});
