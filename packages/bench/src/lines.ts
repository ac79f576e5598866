import { Writable } from 'node:stream';

/** A writable that hands `onLine` each complete line written to it (without the newline). */
export function lineSink(onLine: (line: string) => void): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      pending += chunk.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        onLine(line);
      }
      callback();
    },
    final(callback) {
      if (pending) onLine(pending);
      pending = '';
      callback();
    },
  });
}
