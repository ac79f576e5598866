/** Message sizes as people write them: 0, 512, 4k, 32K, 1m (binary units). */

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 * 1024 };
/** Larger messages would put gigabytes in flight in a bandwidth window. */
export const MAX_SIZE = 16 * 1024 * 1024;

/** Bytes, or an explanation of what is wrong with `text`. */
export function parseSize(text: string): number | string {
  const m = /^(\d+)([kKmM]?)$/.exec(text.trim());
  if (!m) return `'${text}' is not a size (bytes, or a number with k or m, e.g. 512, 4k, 1m)`;
  const bytes = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(bytes) || bytes > MAX_SIZE) return `size '${text}' is larger than the limit of ${formatSize(MAX_SIZE)}`;
  return bytes;
}

export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)}M`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}K`;
  return String(bytes);
}
