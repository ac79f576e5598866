import { describe, expect, it } from 'vitest';
import { mcaPairs, parseArgs, UsageError, type OptionSpec } from '../src/args.js';

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
