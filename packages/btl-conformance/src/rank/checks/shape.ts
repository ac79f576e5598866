import { BtlFlag, type BtlModule } from '@switchyard/btl-interface';
import type { Verdict } from './verdict.js';
import { verdictOf } from './verdict.js';

const isCount = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= 0;
const isSize = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0;

/** module-shape: what the BML reads from a module is there and consistent. */
export function checkShape(component: string, modules: readonly BtlModule[]): Verdict {
  const v: string[] = [];
  if (!Array.isArray(modules) || modules.length === 0)
    return verdictOf([
      `init returned ${Array.isArray(modules) ? 'no modules' : String(modules)}; a component that cannot work here should decline in ` +
        `open() instead`,
    ]);
  const names = new Set<string>();
  for (const m of modules) {
    const who = `module '${m.name}'`;
    if (m.component !== component) v.push(`${who} says its component is '${m.component}', not '${component}'`);
    if (typeof m.name !== 'string' || !m.name) v.push(`a module has no name`);
    else if (names.has(m.name)) v.push(`two modules are named '${m.name}' (names must be unique in a process)`);
    names.add(m.name);
    for (const field of ['exclusivity', 'latency', 'bandwidth'] as const)
      if (!isCount(m[field])) v.push(`${who}: ${field} is ${String(m[field])}, not a number >= 0`);
    if (!isSize(m.eagerLimit)) v.push(`${who}: eagerLimit is ${String(m.eagerLimit)}, not a positive integer`);
    if (!isSize(m.maxSendSize)) v.push(`${who}: maxSendSize is ${String(m.maxSendSize)}, not a positive integer`);
    if (m.eagerLimit > m.maxSendSize) v.push(`${who}: eagerLimit ${m.eagerLimit} exceeds maxSendSize ${m.maxSendSize}`);
    if (!Number.isInteger(m.flags) || !(m.flags & BtlFlag.SEND)) v.push(`${who}: flags 0x${Number(m.flags).toString(16)} lack SEND (0x1)`);
    if (m.flags & BtlFlag.RDMA && typeof m.registerMemory !== 'function') v.push(`${who}: flagged PUT/GET but has no registerMemory()`);
    if (m.flags & BtlFlag.PUT && typeof m.put !== 'function') v.push(`${who}: flagged PUT but has no put()`);
    if (m.flags & BtlFlag.GET && typeof m.get !== 'function') v.push(`${who}: flagged GET but has no get()`);
    for (const method of ['addProcs', 'delProcs', 'send', 'flush', 'finalize'] as const) {
      if (typeof m[method] !== 'function') v.push(`${who}: ${method}() is missing`);
    }
    if (m.rdmaPipelineSendLength !== undefined && !isCount(m.rdmaPipelineSendLength))
      v.push(`${who}: rdmaPipelineSendLength is ${String(m.rdmaPipelineSendLength)}`);
    const split = m.splitGetMin;
    if (split !== undefined && !isCount(split)) v.push(`${who}: splitGetMin is ${String(split)}, not a number >= 0`);
    else if (split && (m.flags & BtlFlag.RDMA) !== BtlFlag.RDMA)
      v.push(`${who}: splitGetMin is set but the module is not flagged both PUT and GET (a split pull needs both): the PML never splits`);
  }
  return verdictOf(v);
}

/** Part of modex-card: a card must come out of JSON as it went in (the modex carries JSON). */
export function cardProblems(modules: readonly BtlModule[]): string[] {
  const out: string[] = [];
  for (const m of modules) {
    let text: string | undefined;
    try {
      text = JSON.stringify(m.businessCard ?? null);
    } catch (error) {
      out.push(`module '${m.name}': businessCard cannot be turned into JSON: ${(error as Error).message}`);
      continue;
    }
    if (text !== JSON.stringify(JSON.parse(text!))) out.push(`module '${m.name}': businessCard changes through JSON`);
    if (!sameJson(m.businessCard ?? null, JSON.parse(text!)))
      out.push(`module '${m.name}': businessCard holds values JSON drops or changes (functions, undefined, Map, class instances...)`);
  }
  return out;
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const proto = Object.getPrototypeOf(a);
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
