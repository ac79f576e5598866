/**
 * Checking a verb before anything is sent to a rank. A tool's `ctl` call is JSON from any process
 * of the job's owner, so the coordinator re-checks every field and forwards a normalised copy;
 * `switchyard ctl` runs the same checks so a user sees the same messages either way.
 */
import { VERB_NAMES, type Verb } from './protocol.js';

/** A verb that cannot be sent: its message says what is wrong. */
export class VerbError extends Error {
  override readonly name = 'VerbError';
}

/** BTL component names: `tcp`, `openib`, `my-btl`; no spaces or commas (lists are comma-separated). */
const BTL_NAME = /^[A-Za-z0-9][\w.-]{0,63}$/;
/** MCA parameter names: `btl`, `btl_tcp_port`, `pml_ob1_eager_limit`. */
const MCA_KEY = /^[A-Za-z][\w]{0,127}$/;
const PHASES = ['prepare', 'continue', 'restart'] as const;

export function isVerbName(name: string): name is Verb['verb'] {
  return (VERB_NAMES as readonly string[]).includes(name);
}

export function checkBtlName(name: unknown, what = 'BTL'): string {
  if (typeof name !== 'string' || name === '') throw new VerbError(`missing ${what} name`);
  if (!BTL_NAME.test(name)) throw new VerbError(`'${name}' is not a BTL component name (letters, digits, '_', '-', '.')`);
  return name;
}

/**
 * A normalised copy of `params` (ranks sorted and deduplicated, empty scope dropped, no unknown
 * fields), or a VerbError naming what is wrong. With `size`, ranks must exist in the job.
 */
export function validateVerb(params: unknown, size?: number): Verb {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new VerbError(`a verb must be an object like {"verb":"switch","btls":["tcp"]}, got ${JSON.stringify(params) ?? String(params)}`);
  }
  const p = params as Record<string, unknown>;
  const name = p.verb;
  if (typeof name !== 'string' || !isVerbName(name)) {
    throw new VerbError(`unknown verb ${JSON.stringify(name) ?? 'undefined'}; verbs: ${VERB_NAMES.join(', ')}`);
  }
  const ranks = validateRanks(p.ranks, size);
  const scope = ranks ? { ranks } : {};
  switch (name) {
    case 'switch': {
      if (!Array.isArray(p.btls) || p.btls.length === 0) throw new VerbError('switch needs at least one BTL: switch BTL[,BTL...]');
      const btls = [...new Set(p.btls.map((b) => checkBtlName(b)))];
      return { verb: 'switch', btls, ...scope };
    }
    case 'reset':
      return { verb: 'reset', ...scope };
    case 'unload':
    case 'load':
      if (p.btl === undefined || p.btl === '') throw new VerbError(`${name} needs a BTL: ${name} BTL`);
      return { verb: name, btl: checkBtlName(p.btl), ...scope };
    case 'apply': {
      if (!Array.isArray(p.mca) || p.mca.length === 0) throw new VerbError('apply needs at least one --mca KEY VALUE');
      const mca = p.mca.map((pair): [string, string] => {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
          throw new VerbError(`apply takes [KEY, VALUE] string pairs, got ${JSON.stringify(pair)}`);
        }
        if (!MCA_KEY.test(pair[0])) throw new VerbError(`'${pair[0]}' is not an MCA parameter name`);
        return [pair[0], pair[1]];
      });
      return { verb: 'apply', mca, ...scope };
    }
    case 'checkpoint': {
      if (ranks) throw new VerbError('checkpoint applies to every rank; it takes no --ranks');
      const phase = p.phase;
      if (typeof phase !== 'string' || !(PHASES as readonly string[]).includes(phase)) {
        throw new VerbError(
          `checkpoint needs a phase: prepare, continue or restart${phase === undefined ? '' : `, got '${String(phase)}'`}`,
        );
      }
      return { verb: 'checkpoint', phase: phase as (typeof PHASES)[number] };
    }
    case 'migrate': {
      if (!ranks || ranks.length !== 1) throw new VerbError('migrate moves one rank: give exactly one rank in ranks');
      if (p.phase !== 'away' && p.phase !== 'back') {
        throw new VerbError(`migrate needs a phase: away or back${p.phase === undefined ? '' : `, got '${String(p.phase)}'`}`);
      }
      return { verb: 'migrate', phase: p.phase, ranks };
    }
  }
}

/**
 * The pid of the `checkpoint save` a checkpoint verb comes from, if it says so (`save`): from its
 * prepare to its continue the job's verbs are that save's alone.
 */
export function saveOf(params: unknown): number | undefined {
  const p = params as Record<string, unknown> | null;
  if (typeof p !== 'object' || p === null || p.verb !== 'checkpoint' || p.save === undefined) return undefined;
  if (!Number.isInteger(p.save) || (p.save as number) <= 0) {
    throw new VerbError(`save must be the pid of a checkpoint save, got ${JSON.stringify(p.save)}`);
  }
  return p.save as number;
}

function validateRanks(value: unknown, size: number | undefined): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new VerbError(`ranks must be a list of rank numbers, got ${JSON.stringify(value)}`);
  const ranks = new Set<number>();
  for (const r of value) {
    if (!Number.isInteger(r) || (r as number) < 0) throw new VerbError(`${JSON.stringify(r)} in ranks is not a rank number`);
    if (size !== undefined && (r as number) >= size) {
      throw new VerbError(`rank ${r as number} does not exist: the job has ranks 0-${size - 1}`);
    }
    ranks.add(r as number);
  }
  return ranks.size ? [...ranks].sort((a, b) => a - b) : undefined;
}
