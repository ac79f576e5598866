import { createRequire } from 'node:module';
import { ConformanceError } from './conformance-error.js';
import { resolveSetup, type ConformanceOptions, type TestFunction } from './options.js';
import { RULES } from './rules.js';
import { ConformanceSession } from './runner/session.js';

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
        async (context?: { skip?: (note?: string) => void }) => {
          const outcome = await session.outcome(rule.id);
          if (outcome.status === 'fail') throw new ConformanceError(rule, outcome.observed ?? 'no detail');
          if (outcome.status === 'n/a') {
            const note = `not applicable to btl ${setup.component}: ${outcome.observed}`;
            if (typeof context?.skip === 'function') context.skip(note);
            else console.log(`[btl-conformance] ${rule.id}: ${note}`);
          }
        },
        setup.timeoutMs,
      );
    }
  });
}

/** The runner's describe / it: given, else vitest's, loaded only now so other runners need not have it. */
function runnerOf(options: ConformanceOptions): { describe: Describe; it: TestFunction } {
  if (options.describe && options.it) return { describe: options.describe, it: options.it };
  let vitest: { describe: Describe; it: TestFunction };
  try {
    vitest = createRequire(import.meta.url)('vitest') as typeof vitest;
  } catch (error) {
    throw new TypeError(`describeConformance: no describe/it were given and vitest cannot be loaded (${(error as Error).message}); pass your runner's describe and it`);
  }
  return { describe: options.describe ?? vitest.describe, it: options.it ?? vitest.it };
}
