import { readFileSync } from 'node:fs';

/**
 * Whether this process is in the foreground process group of its terminal. A background job
 * that reads its terminal is stopped (SIGTTIN), so `switchyard run ... &` must not read a
 * terminal stdin; Open MPI's mpirun makes the same check. Linux: /proc/self/stat has the
 * process group (5th field) and the terminal's foreground group (8th).
 */
export function inForeground(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // The command name (2nd field) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[2] === fields[5];
  } catch {
    return false;
  }
}
