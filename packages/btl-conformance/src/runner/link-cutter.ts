import { existsSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CUT_DIR, type CutAnswer, type CutRound, type CutSockets } from '../protocol.js';
import { shutdownSockets } from './cut-helper.js';
import { connectedSockets, type SocketEnd } from './socket-table.js';
import { writeWhole } from '../write-whole.js';

const POLL_MS = 50;

/**
 * Cuts the live connections between rank 0 and rank 1 of a kit job from outside (rule link-cut),
 * as an operator's `ss -K`, a NIC reset or a middlebox's reset does while both modules stay
 * loaded: nothing in the rank knows, its sockets simply end. Only a connection joining a socket
 * rank 0 listed to one rank 1 listed (opened since the component was loaded, see CutSockets) is
 * cut: the runtime's and the kit's own channels were open before and are never touched.
 */
export class LinkCutter {
  readonly #dir: string;
  readonly #timer: NodeJS.Timeout;
  readonly #served = new Set<CutRound>();

  constructor(scratch: string) {
    this.#dir = join(scratch, CUT_DIR);
    mkdirSync(this.#dir, { recursive: true });
    this.#timer = setInterval(() => this.#poll(), POLL_MS);
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #poll(): void {
    for (const round of ['cut', 'recut', 'left'] as const) {
      if (this.#served.has(round) || !existsSync(join(this.#dir, `request-${round}.json`))) continue;
      this.#served.add(round);
      void this.#serve(round).then((answer) => {
        try {
          writeWhole(join(this.#dir, `answer-${round}.json`), JSON.stringify(answer));
        } catch {
          // The job ended meanwhile and took its folder with it.
        }
      });
    }
  }

  /** Rounds `cut` and `recut`: cut the connections between the listed sockets; round `left`: only names them. */
  async #serve(round: CutRound): Promise<CutAnswer> {
    const [a, b] = [0, 1].map((rank) => JSON.parse(readFileSync(join(this.#dir, `sockets-${round}-${rank}.json`), 'utf8')) as CutSockets);
    const table = await connectedSockets();
    if (typeof table === 'string') return { cut: [], unavailable: table };
    const pairs = joined(table, a!, b!);
    const named = pairs.map(([x, y]) => `${x.kind} socket: rank ${a!.rank} fd ${x.fd} <-> rank ${b!.rank} fd ${y.fd}`);
    if (round === 'left') return { cut: named };
    for (const [side, ends] of [
      [a!, pairs.map((p) => p[0])],
      [b!, pairs.map((p) => p[1])],
    ] as const) {
      if (!ends.length) continue;
      const result = await shutdownSockets(side.pid, ends.map((e) => e.fd));
      if ('unavailable' in result) return { cut: [], unavailable: result.unavailable };
      if (result.failed.length) return { cut: [], unavailable: `shutdown(2) failed in rank ${side.rank}: ${result.failed.join(', ')}` };
    }
    return { cut: named };
  }
}

/** The connections from a socket `a` listed to one `b` listed, each end checked to still be that socket. */
function joined(table: readonly SocketEnd[], a: CutSockets, b: CutSockets): Array<[SocketEnd, SocketEnd]> {
  const listed = (side: CutSockets) =>
    table.filter((end) => end.pid === side.pid && side.sockets.some((s) => s.fd === end.fd && still(side.pid, s)));
  const ours = listed(a);
  const theirs = listed(b);
  return ours.flatMap((x) => {
    const y = theirs.find((t) => t.kind === x.kind && t.local === x.peer && t.peer === x.local);
    return y ? [[x, y] as [SocketEnd, SocketEnd]] : [];
  });
}

/** Does descriptor `fd` of `pid` still name the socket the rank listed (not one opened since in its place)? */
function still(pid: number, socket: { fd: number; inode: number }): boolean {
  try {
    return readlinkSync(`/proc/${pid}/fd/${socket.fd}`) === `socket:[${socket.inode}]`;
  } catch {
    return false;
  }
}
