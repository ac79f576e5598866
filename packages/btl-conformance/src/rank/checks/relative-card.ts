import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { BtlModule } from '@switchyard/btl-interface';

/**
 * Strings in a module's card that name a file relative to this rank's working directory: every
 * rank runs in a folder of its own (see own-folder.ts), which holds only what the component put
 * there, so a relative name that exists here was made by it, and a peer resolves it against its
 * own folder, where nothing has that name. Said beside the failed connection it explains.
 */
export function relativeCardPaths(modules: readonly BtlModule[]): string[] {
  const out: string[] = [];
  for (const m of modules) {
    const found = stringsOf(m.businessCard).filter(([, s]) => s !== '' && s !== '.' && !isAbsolute(s) && existsSync(s));
    for (const [key, s] of found)
      out.push(`module '${m.name}': its businessCard's ${key} '${s}' is a path relative to this rank's working directory, which a peer ` +
        `resolves against its own (each rank runs in a folder of its own, as in real jobs): a card must name absolute paths`);
  }
  return out;
}

/** Every string in a JSON-like value, with where it is (`path`, `peers[0].path`). */
function stringsOf(value: unknown, at = ''): Array<[string, string]> {
  if (typeof value === 'string') return [[at || 'value', value]];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => stringsOf(v, Array.isArray(value) ? `${at}[${k}]` : at ? `${at}.${k}` : k));
}
