import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';

/**
 * Why a configuration path that is there cannot be read as a file, or undefined when it is a
 * regular file (or a link to one) or is not there at all. Asked before reading: reading a FIFO
 * blocks until a writer comes, which may be never; a folder or a dangling link in a config's
 * place would otherwise be taken for no config, and the operator's settings dropped unsaid.
 */
export function notARegularFile(path: string): string | undefined {
  let link: Stats;
  try {
    link = lstatSync(path);
  } catch {
    return undefined;
  }
  let target: Stats;
  try {
    target = statSync(path);
  } catch {
    return `is a symbolic link to ${readlinkSync(path)}, which does not exist`;
  }
  if (target.isFile()) return undefined;
  const kind = target.isDirectory()
    ? 'a folder'
    : target.isFIFO()
      ? 'a FIFO (named pipe)'
      : target.isSocket()
        ? 'a socket'
        : target.isCharacterDevice() || target.isBlockDevice()
          ? 'a device'
          : 'not a regular file';
  return link.isSymbolicLink() ? `is a symbolic link to ${kind}` : `is ${kind}`;
}

/**
 * The most a configuration file may hold. Real ones are a few hundred bytes; a file far past this
 * is the wrong file (a log, a data set named like a config), and reading it whole into every rank
 * of a job would cost seconds and hundreds of megabytes before anything could say so.
 */
export const CONFIG_MAX_BYTES = 1024 * 1024;

/** Why a configuration file that is there is too large to read, or undefined. */
export function tooLargeForConfig(path: string): string | undefined {
  const size = statSync(path, { throwIfNoEntry: false })?.size;
  if (size === undefined || size <= CONFIG_MAX_BYTES) return undefined;
  return `is ${(size / 1024 / 1024).toFixed(1)} MiB, and a configuration file holds at most 1 MiB: is it the right file?`;
}

/**
 * Where the first byte sequence of `bytes` that is not UTF-8 starts (1-based line and column),
 * or undefined. A configuration read as UTF-8 would otherwise hold U+FFFD in its place, a value
 * nobody wrote, refused later (if at all) far from the file.
 */
export function invalidUtf8At(bytes: Uint8Array): { line: number; column: number } | undefined {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return undefined;
  } catch {
    // Not UTF-8 somewhere: found line by line, then within the line.
  }
  let lineStart = 0;
  let line = 1;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    const text = bytes.subarray(lineStart, i);
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(text);
    } catch {
      const valid = new TextDecoder('utf-8').decode(text).indexOf('\uFFFD');
      return { line, column: valid + 1 };
    }
    lineStart = i + 1;
    line += 1;
  }
  return undefined;
}
