import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

// pidfd_open (434) and pidfd_getfd (438) have these numbers on every architecture Linux added
// them to after 5.1 (one table for all). shutdown(2) on the copy acts on the socket itself, which
// the rank shares: both ends see the link end, as after a reset, and the rank's descriptor stays.
// A descriptor already closed ("gone") is a connection the rank ended itself once the other end
// was cut: a running rank closes its end as soon as it reads the end of the stream.
const SCRIPT = `
my ($pid, @fds) = @ARGV;
my $pidfd = syscall(434, $pid + 0, 0);
if ($pidfd < 0) { print "unavailable pidfd_open: $!\\n"; exit 0; }
for my $fd (@fds) {
  my $copy = syscall(438, $pidfd, $fd + 0, 0);
  if ($copy < 0 && $!{EBADF}) { print "gone $fd\\n"; next; }
  if ($copy < 0) { print "unavailable pidfd_getfd: $!\\n"; exit 0; }
  open(my $fh, '+<&=', $copy) or do { print "failed $fd $!\\n"; next; };
  if (shutdown($fh, 2)) { print "cut $fd\\n"; } else { print "failed $fd $!\\n"; }
}
`;

export type ShutdownResult = { readonly cut: number[]; readonly failed: string[] } | { readonly unavailable: string };

/**
 * Shuts the sockets at descriptors `fds` of process `pid` down (both directions) from outside it:
 * a copy of each is taken with pidfd_getfd(2) (root, or CAP_SYS_PTRACE over the process) and
 * shutdown(2) is called on the copy. Node has no call for either, and the kit must not need a
 * compiler where it is installed, so a few lines of Perl (present on practically every Linux
 * host) make the calls; without Perl, or where the kernel (older than 5.6) or a seccomp profile
 * refuses them, the answer says so.
 */
export async function shutdownSockets(pid: number, fds: readonly number[]): Promise<ShutdownResult> {
  let stdout: string;
  try {
    ({ stdout } = await run('perl', ['-e', SCRIPT, String(pid), ...fds.map(String)]));
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'perl is not installed (the kit calls pidfd_getfd through it)' : `perl failed: ${e.message}`;
    return { unavailable: why };
  }
  const lines = stdout.trim().split('\n').filter(Boolean);
  const refused = lines.find((l) => l.startsWith('unavailable '));
  if (refused) return { unavailable: `${refused.slice('unavailable '.length)} (needs Linux 5.6+ and the right to trace the rank)` };
  return {
    cut: lines.filter((l) => l.startsWith('cut ')).map((l) => Number(l.slice(4))),
    failed: lines.filter((l) => l.startsWith('failed ')).map((l) => `fd ${l.slice(7)}`),
  };
}
