import { renameSync, writeFileSync } from 'node:fs';

/**
 * Writes `file` whole or not at all: the ranks and the kit's runner talk through files in the
 * job's scratch folder and may read one at any moment, so it appears by rename, complete.
 */
export function writeWhole(file: string, text: string): void {
  writeFileSync(`${file}.part`, text);
  renameSync(`${file}.part`, file);
}
