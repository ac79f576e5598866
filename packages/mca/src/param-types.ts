/**
 * The typed values an MCA parameter can hold, and how raw input from each source (strings from
 * files, environment and command line; JSON/YAML/JS values from project config) becomes one.
 */

export type ParamType = 'integer' | 'size' | 'boolean' | 'string' | 'enum' | 'list';

/** Open MPI's audiences for a parameter (`ompi_info --level`: user 1-3, tuner 4-6, developer 7-9). */
export type ParamLevel = 'user' | 'tuner' | 'developer';

export const LEVEL_NUMBER: Record<ParamLevel, number> = { user: 1, tuner: 4, developer: 7 };

export interface ValueOf {
  integer: number;
  size: number;
  boolean: boolean;
  string: string;
  enum: string;
  list: string[];
}

/** Thrown by a coercion; the caller adds the parameter name and the source. */
export class ParamTypeError extends Error {
  override readonly name = 'ParamTypeError';
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `64k`, `1m`, `1.5g`, `512`, `4 MiB`, `16KB` (binary units, as Open MPI's size parameters). */
export function parseSize(raw: unknown): number {
  if (typeof raw === 'number') {
    if (Number.isSafeInteger(raw) && raw >= 0) return raw;
    throw new ParamTypeError(`expected a size in bytes (e.g. 65536, 64k, 1m), got ${raw}`);
  }
  if (typeof raw !== 'string') throw new ParamTypeError(`expected a size (e.g. 64k, 1m), got ${describe(raw)}`);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(raw);
  if (!m) throw new ParamTypeError(`expected a size (e.g. 65536, 64k, 1m, 2g), got '${raw}'`);
  const bytes = Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(Math.round(bytes))) throw new ParamTypeError(`size '${raw}' is too large`);
  return Math.round(bytes);
}

/** The shortest exact binary-unit form: 65536 → `64k`, 1048576 → `1m`, 1000 → `1000`. */
export function formatSize(bytes: number): string {
  for (const unit of ['t', 'g', 'm', 'k'] as const) {
    const scale = SIZE_UNITS[unit]!;
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return String(bytes);
}

export function parseInteger(raw: unknown): number {
  if (typeof raw === 'number') {
    if (Number.isSafeInteger(raw)) return raw;
    throw new ParamTypeError(`expected an integer, got ${raw}`);
  }
  if (typeof raw === 'string' && /^\s*[+-]?(\d+|0x[0-9a-f]+)\s*$/i.test(raw)) {
    const text = raw.trim();
    // The sign is read once, here; the digits after it carry none.
    const sign = text.startsWith('-') ? -1 : 1;
    const digits = text.replace(/^[+-]/, '');
    const value = sign * (/^0x/i.test(digits) ? Number.parseInt(digits.slice(2), 16) : Number(digits));
    if (Number.isSafeInteger(value)) return value;
  }
  throw new ParamTypeError(`expected an integer, got ${describe(raw)}`);
}

const TRUE = new Set(['true', '1', 'yes', 'on', 'enabled']);
const FALSE = new Set(['false', '0', 'no', 'off', 'disabled']);

export function parseBoolean(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  if (raw === 0 || raw === 1) return raw === 1;
  if (typeof raw === 'string') {
    const v = raw.trim().toLowerCase();
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
  }
  throw new ParamTypeError(`expected a boolean (true/false, 1/0, yes/no, on/off), got ${describe(raw)}`);
}

export function parseString(raw: unknown): string {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  throw new ParamTypeError(`expected a string, got ${describe(raw)}`);
}

export function parseEnum(raw: unknown, values: readonly string[]): string {
  const text = typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : raw;
  if (typeof text === 'string') {
    const found = values.find((v) => v.toLowerCase() === text.trim().toLowerCase());
    if (found !== undefined) return found;
  }
  throw new ParamTypeError(`expected one of ${values.map((v) => `'${v}'`).join(', ')}, got ${describe(raw)}`);
}

/** A comma-separated string (`tcp,self`) or an array of strings; blanks around items are dropped. */
export function parseList(raw: unknown): string[] {
  if (Array.isArray(raw)) {
    return raw.map((item) => {
      if (typeof item !== 'string' && typeof item !== 'number') {
        throw new ParamTypeError(`expected a list of strings, got an item ${describe(item)}`);
      }
      return String(item).trim();
    });
  }
  if (typeof raw === 'string') {
    const text = raw.trim();
    return text === '' ? [] : text.split(',').map((s) => s.trim());
  }
  throw new ParamTypeError(`expected a comma-separated list, got ${describe(raw)}`);
}

export function coerce<T extends ParamType>(type: T, raw: unknown, values?: readonly string[]): ValueOf[T] {
  switch (type) {
    case 'integer':
      return parseInteger(raw) as ValueOf[T];
    case 'size':
      return parseSize(raw) as ValueOf[T];
    case 'boolean':
      return parseBoolean(raw) as ValueOf[T];
    case 'string':
      return parseString(raw) as ValueOf[T];
    case 'enum':
      return parseEnum(raw, values ?? []) as ValueOf[T];
    case 'list':
      return parseList(raw) as ValueOf[T];
  }
  throw new ParamTypeError(`unknown parameter type '${String(type)}'`);
}

/** The value as a user would write it in a file: sizes in binary units, lists comma-joined. */
export function formatValue(type: ParamType, value: unknown): string {
  if (type === 'size' && typeof value === 'number') return formatSize(value);
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

function describe(raw: unknown): string {
  if (typeof raw === 'string') return `'${raw}'`;
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return `a list (${JSON.stringify(raw)})`;
  if (typeof raw === 'object') return `an object (${JSON.stringify(raw)})`;
  return `${typeof raw} ${String(raw)}`;
}
