import { ConformanceError } from './conformance-error.js';
import { resolveSetup, type ConformanceOptions, type TestFunction } from './options.js';
import { RULES } from './rules.js';
import { ConformanceSession } from './runner/session.js';
import { vitestRunner } from './default-runner.js';

type Describe = NonNullable<ConformanceOptions['describe']>;

/**
 * Registers the conformance tests of one BTL package with the test runner: one test per rule of
 * the contract, named by its id. They start real ranks with `switchyard run` (the kit must be
 * built, and so must the BTL package if its entry is compiled). A failing rule throws a
 * ConformanceError saying which rule, where it is documented and what was observed; a rule that
 * does not apply to this BTL is skipped with the reason.
 */
export function describeConformance(options: ConformanceOptions): void {
  const setup = resolveSetup(options);
  const { describe, it } = runnerOf(options);
  const session = new ConformanceSession(setup);
  const checked = new Set(session.rules());
  describe(`btl-conformance: ${setup.component} (${setup.packageName}, ${setup.ranks} rank${setup.ranks === 1 ? '' : 's'})`, () => {
    for (const rule of RULES) {
      const name = `${rule.id}: ${rule.title}`;
      if (setup.skip.has(rule.id)) {
        (it.skip ?? it)(`${name} [skipped by option: ${rule.id}]`, () => {});
        continue;
      }
      if (!checked.has(rule.id)) continue;
      it(
        name,
        // Rest parameters keep the function's length 0: jest and mocha take a function with a
        // parameter for a callback-style test that waits for `done`.
        async (...args: unknown[]) => {
          const context = args[0] as { skip?: (note?: string) => void } | undefined;
          const outcome = await session.outcome(rule.id);
          if (outcome.status === 'fail') throw new ConformanceError(rule, outcome.observed ?? 'no detail');
          if (outcome.status === 'n/a') {
            const note = `not applicable to btl ${setup.component}: ${outcome.observed}`;
            if (typeof context?.skip === 'function') context.skip(note);
            else console.log(`[btl-conformance] ${rule.id}: ${note}`);
          }
        },
        session.testTimeoutMs(rule.id),
      );
    }
  });
}

/** The runner's describe / it: given, else global ones (jest, mocha, vitest with globals), else vitest's. */
function runnerOf(options: ConformanceOptions): { describe: Describe; it: TestFunction } {
  const globals = globalThis as { describe?: Describe; it?: TestFunction };
  const describe = options.describe ?? globals.describe ?? vitestRunner?.describe;
  const it = options.it ?? globals.it ?? vitestRunner?.it;
  if (!describe || !it)
    throw new TypeError(
      "describeConformance: no describe/it were given, none are global, and vitest is not installed: pass your test runner's describe " +
        'and it',
    );
  return { describe, it };
}
