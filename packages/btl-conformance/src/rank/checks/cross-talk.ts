import type { BtlModule } from '@switchyard/btl-interface';
import { fill, KitTest, tagOf } from '../fragments.js';
import type { KitHost } from '../kit-host.js';
import { sendStream, timeout } from '../round.js';
import type { Wiring } from '../wiring.js';

const MAGIC = 0x4a584b53; // 'SKXJ'
/** magic, job, sender rank, sequence number, total length, sender's module index. */
export const MARKED_HEADER = 24;
const TAG = tagOf(KitTest.CROSS_TALK);

/** Who sent a fragment: the job (one of the two the kit runs at once, or 0) and the rank in it. */
export interface Marked {
  readonly job: number;
  readonly sender: number;
  readonly seq: number;
  readonly moduleIndex: number;
}

const seedOf = (id: Marked) => (id.job * 53 + id.sender * 977 + id.seq * 131) & 0xff;

export function makeMarked(id: Marked, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  [MAGIC, id.job, id.sender, id.seq, length, id.moduleIndex].forEach((n, i) => view.setUint32(i * 4, n, true));
  fill(bytes, MARKED_HEADER, seedOf(id));
  return bytes;
}

/** A fragment's job, sender and number, its bytes checked; a string says what is wrong. */
export function readMarked(data: Uint8Array): Marked | string {
  if (data.length < MARKED_HEADER) return `a fragment of ${data.length} bytes, shorter than the ${MARKED_HEADER} bytes the kit sent`;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const [magic, job, sender, seq, length, moduleIndex] = [0, 1, 2, 3, 4, 5].map((i) => view.getUint32(i * 4, true)) as number[];
  if (magic !== MAGIC) return 'a fragment without the kit\'s header (corrupted, or another check\'s bytes)';
  const id: Marked = { job: job!, sender: sender!, seq: seq!, moduleIndex: moduleIndex! };
  if (length !== data.length) return `fragment ${seq} from rank ${sender} was sent with ${length} bytes and arrived with ${data.length}`;
  const expected = new Uint8Array(data.length);
  fill(expected, MARKED_HEADER, seedOf(id));
  for (let i = MARKED_HEADER; i < data.length; i++)
    if (data[i] !== expected[i]) return `fragment ${seq} (${length} bytes) from rank ${sender} arrived damaged at byte ${i}`;
  return id;
}

/** A few fragments per endpoint, from the header alone to a page, within the module's limit. */
export function crossTalkSizes(module: BtlModule): number[] {
  return [MARKED_HEADER, 64, 1500, 4096].filter((size) => size <= module.maxSendSize);
}

export interface CrossTalkOptions {
  /** The number every fragment of this job carries. */
  readonly job: number;
  /** How a job's number reads in a failure ('job B'). */
  readonly jobName: (job: number) => string;
  readonly waitMs: number;
  /** Said after a fragment that never arrived: where it may have gone instead. */
  readonly elsewhere?: string;
  /**
   * Runs once this job's fragments arrived (or the wait ran out), before the kit stops listening:
   * two jobs wait here for each other, so what the other job sends to this one's addresses is seen.
   * Says what went wrong, if anything. Default: the job's own ranks wait for each other.
   */
  readonly settle?: () => Promise<string | undefined>;
  /** Names this exchange's barriers when a job runs more than one (default: the first). */
  readonly round?: string;
}

interface Stream {
  readonly rank: number;
  readonly moduleIndex: number;
  readonly expected: number;
  readonly seen: Set<number>;
}

/**
 * Every rank sends a few fragments to every endpoint, each naming its job and sender, and checks
 * what it receives: each fragment once, on the endpoint of the rank that sent it, from this job.
 * Failures are counted per sender and per endpoint it arrived on, so a module that credits ranks
 * 10 and 11 to rank 1 says just that, and one whose traffic reached another job names that job.
 */
export async function crossTalk(wiring: Wiring, host: KitHost, options: CrossTalkOptions): Promise<string[]> {
  const problems: string[] = [];
  const note = (message: string) => {
    if (problems.length < 24) problems.push(message);
  };
  const streams = new Map<string, Stream>();
  for (const s of wiring.senders())
    streams.set(`${s.rank}/${s.moduleIndex}`, { ...s, expected: crossTalkSizes(wiring.modules[s.moduleIndex]!).length, seen: new Set() });
  /** Counts by "sender>endpoint rank" (own job, wrong endpoint) and "job/sender>endpoint rank" (another job). */
  const misplaced = new Map<string, number>();
  const foreign = new Map<string, number>();
  const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  let complete: () => void = () => {};
  const allArrived = new Promise<void>((resolve) => (complete = resolve));
  const check = () => [...streams.values()].every((s) => s.seen.size >= s.expected) && complete();
  host.sink(TAG, (from, data) => {
    const id = readMarked(data);
    if (typeof id === 'string') return note(`on the endpoint of rank ${from}: ${id}`);
    if (id.job !== options.job) return void count(foreign, `${id.job}/${id.sender}>${from}`);
    if (id.sender !== from) count(misplaced, `${id.sender}>${from}`);
    const stream = streams.get(`${id.sender}/${id.moduleIndex}`);
    if (!stream) return note(`a fragment from rank ${id.sender} (module ${id.moduleIndex}) arrived, but that module has no endpoint here`);
    if (stream.seen.has(id.seq)) return note(`fragment ${id.seq} from rank ${id.sender} arrived twice`);
    stream.seen.add(id.seq);
    check();
  });
  check();
  await wiring.sync(`cross-talk-start${options.round ?? ''}`);
  const sent = Promise.all(
    wiring.modules.flatMap((module, moduleIndex) => {
      const sizes = crossTalkSizes(module);
      const make = (seq: number) => makeMarked({ job: options.job, sender: wiring.rank, seq, moduleIndex }, sizes[seq]!);
      const plan = { tag: TAG, count: sizes.length, make, waitMs: options.waitMs };
      return [...wiring.endpoints[moduleIndex]!.values()].map((endpoint) => sendStream(module, endpoint, host, plan, note));
    }),
  );
  const deadline = timeout(options.waitMs);
  const finished = await Promise.race([Promise.all([sent, allArrived]).then(() => true), deadline.promise]);
  deadline.cancel();
  if (!finished) {
    for (const s of streams.values()) {
      if (s.seen.size >= s.expected) continue;
      const missing = Array.from({ length: s.expected }, (_, seq) => seq).filter((seq) => !s.seen.has(seq));
      note(`after ${options.waitMs} ms, ${missing.length} of ${s.expected} fragments from rank ${s.rank} had not arrived (missing ` +
        `${missing.join(', ')})${options.elsewhere ?? ''}`);
    }
  }
  await sent;
  if (options.settle) {
    const problem = await options.settle();
    if (problem) note(problem);
  } else await wiring.sync(`cross-talk-end${options.round ?? ''}`);
  host.sink(TAG, undefined);
  const byRank = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
  const wrong = [...misplaced].sort(([a], [b]) => byRank(a, b)).map(([key, n]) => {
    const [sender, on] = key.split('>');
    return `${n} sent by rank ${sender} on the endpoint of rank ${on}`;
  });
  if (wrong.length)
    note(`fragments arrived on the endpoint of another rank than the one that sent them (host.receive must get the endpoint of ` +
      `the sender): ${wrong.join(', ')}`);
  for (const [key, n] of [...foreign].sort(([a], [b]) => byRank(a, b))) {
    const [job, rest] = key.split('/');
    const [sender, on] = rest!.split('>');
    note(`${n} fragment(s) sent by ${options.jobName(Number(job))}'s rank ${sender} arrived in ${options.jobName(options.job)}, on ` +
      `the endpoint of rank ${on}: the two jobs' traffic crossed`);
  }
  for (const stray of host.takeStrays()) note(stray);
  return problems;
}
