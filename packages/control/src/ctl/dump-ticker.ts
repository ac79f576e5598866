import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Bytes of the files in `dir` (CRIU writes its images side by side, with no subfolders). */
function bytesIn(dir: string): number {
  let bytes = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      bytes += statSync(join(dir, name)).size;
    } catch {
      // Gone meanwhile (CRIU renames some images as it finishes them).
    }
  }
  return bytes;
}

/**
 * Says every `everyMs` how long CRIU has been dumping and how much it has written, until the
 * returned function stops it: a job of many GB takes minutes to dump, and without a word the
 * operator cannot tell a slow dump from a stuck one.
 */
export function dumpTicker(imagesDir: string, say: (line: string) => void, everyMs = 5000): () => void {
  const start = Date.now();
  const timer = setInterval(() => {
    const seconds = Math.round((Date.now() - start) / 1000);
    const mb = (bytesIn(imagesDir) / 1e6).toFixed(0);
    say(`dumping: ${seconds} s, ${mb} MB of images written so far`);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
