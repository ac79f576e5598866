import { readdirSync, readFileSync } from 'node:fs';

/** A process's state letter and parent as Linux's /proc shows them, or undefined when it is gone. */
function procStat(pid: number | string): { state: string; ppid: number; pgid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    const [state, ppid, pgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid), pgid: Number(pgid) };
  } catch {
    return undefined;
  }
}

/** Live (not zombie) processes matching `test`. */
function livingWhere(test: (stat: { ppid: number; pgid: number }) => boolean): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(entry);
    if (stat && stat.state !== 'Z' && test(stat)) out.push(Number(entry));
  }
  return out;
}

/** Live (not zombie) processes whose parent is `ppid`. */
export const childrenOf = (ppid: number): number[] => livingWhere((s) => s.ppid === ppid);

/** Live processes of the process group `pgid`. */
export const groupMembers = (pgid: number): number[] => livingWhere((s) => s.pgid === pgid);

/** Whether `pid` is running (a zombie has ended: only its exit status is left to collect). */
export function isAlive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}
