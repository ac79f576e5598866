/**
 * A finalized rank whose process does not end leaves the job hanging with nothing said: after
 * `afterMs`, it names the handles that keep its event loop alive. The timer is unref'd, so it
 * fires only when something else keeps the process up; the transports closed theirs at finalize,
 * so what is left is the application's or a component's that its finalize left behind.
 */
export function noteIfNotEnded(rank: number, afterMs: number, write: (text: string) => void): void {
  if (afterMs <= 0) return;
  setTimeout(() => {
    const open = countByKind(withoutStdio(process.getActiveResourcesInfo()));
    if (!open) return;
    write(
      `switchyard: rank ${rank} (pid ${process.pid}) finalized ${formatSeconds(afterMs)} ago and its process has not ended; ` +
        `what keeps its event loop alive: ${open}. The transports closed theirs at finalize: this is the application's ` +
        `(a timer, server or socket still open), or a BTL component's that its finalize left open ` +
        `(the conformance kit's finalize-releases rule names which)\n`,
    );
  }, afterMs).unref();
}

/** The resource kind of each handle libuv lists for the process's own stdio streams. */
const STDIO_KINDS: Record<string, string> = { Pipe: 'PipeWrap', TTY: 'TTYWrap', TCP: 'TCPSocketWrap' };

/**
 * The resources less one per stdio stream with a handle: the launcher's pipes are listed but
 * never keep a process alive, and would only hide what does.
 */
function withoutStdio(kinds: readonly string[]): string[] {
  const left = [...kinds];
  // Not stdin: reading its getter would open it.
  for (const stream of [process.stdout, process.stderr]) {
    const handle = (stream as unknown as { _handle?: object | null })._handle;
    const kind = handle ? STDIO_KINDS[handle.constructor.name] : undefined;
    const at = kind ? left.indexOf(kind) : -1;
    if (at >= 0) left.splice(at, 1);
  }
  return left;
}

/** `2 Timeout, 1 TCPSocketWrap`; empty when nothing is open. */
function countByKind(kinds: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const kind of kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return [...counts].map(([kind, n]) => `${n} ${kind}`).join(', ');
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
