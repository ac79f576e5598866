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
