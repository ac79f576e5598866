/** What the kit's rank scripts and the test process say to each other (argv in, stdout lines out). */

export type RuleStatus = 'pass' | 'fail' | 'n/a';

/** One rank's verdict on one rule. `observed` says what failed, or why the rule does not apply. */
export interface RuleReport {
  readonly rule: string;
  readonly rank: number;
  readonly status: RuleStatus;
  readonly observed?: string;
}

/** The contract job's configuration, passed to every rank as one JSON argument. */
export interface ContractConfig {
  /** The component under test. */
  readonly component: string;
  /** The rules to check (the others are not run). */
  readonly rules: readonly string[];
  /** How long one check may wait for fragments, completions or writable before it fails. */
  readonly waitMs: number;
  /** How long the soak rule keeps links busy. */
  readonly soakMs: number;
  /** How long rule stopped-peer keeps the odd ranks stopped (SIGSTOP). */
  readonly stopMs: number;
  /** How long rule early-arrival's late ranks wait before their addProcs. */
  readonly holdMs: number;
  /** How many small fragments rule soak's long run sends to one peer. */
  readonly streamFragments: number;
}

/**
 * A side job's configuration: one rule in a job of its own (wide-job: many ranks; two-jobs: one of
 * two jobs the kit runs on the host at once).
 */
export interface SideConfig {
  readonly component: string;
  readonly rule: 'wide-job' | 'two-jobs' | 'link-cut';
  readonly waitMs: number;
  /** For two-jobs: which of the two this job is, and where the two meet. */
  readonly pair?: JobPair;
}

/**
 * Two jobs of the kit on one host at once meet at phases (both loaded the component, both done
 * sending) through files in a folder both see: rank 0 of each writes `<phase>-<label>` and waits,
 * at most `meetMs`, for the other's. Over the file system, since the jobs share no runtime.
 */
export interface JobPair {
  readonly dir: string;
  readonly label: string;
  readonly other: string;
  /** This job's number, carried in every fragment it sends (0 or 1). */
  readonly index: number;
  readonly meetMs: number;
}

/**
 * A rank asks the kit's runner to stop it from outside (SIGSTOP, then SIGCONT): it writes
 * `request-<phase>-<rank>.json` into STOP_DIR of the job's scratch folder. The runner answers
 * with `stopped-<phase>-<rank>` once the process is stopped and `continued-<phase>-<rank>` after
 * SIGCONT, which it sends after `ms`, or earlier once `releases` ranks wrote
 * `release-<phase>-<rank>-<their rank>`.
 */
export interface StopRequest {
  readonly phase: string;
  readonly rank: number;
  readonly pid: number;
  readonly ms: number;
  readonly releases: number;
}

/**
 * Rule link-cut: the kit's runner cuts the links between two ranks from outside, and later says
 * which are left. For each round (`cut`, `recut`, then `left`) each rank writes `sockets-<round>-<rank>.json`
 * (a CutSockets) into CUT_DIR of the job's scratch folder, listing the sockets it opened since the
 * component was loaded; rank 0 then writes `request-<round>.json` and the runner answers with
 * `answer-<round>.json` (a CutAnswer) naming every connection that joins one listed socket of
 * rank 0 to one listed socket of rank 1, cut in rounds `cut` (under load) and `recut` (the
 * connections opened again, idle), only named in round `left`.
 */
export const CUT_DIR = 'kit-cut';

export type CutRound = 'cut' | 'recut' | 'left';

export interface CutSockets {
  readonly rank: number;
  readonly pid: number;
  /** Socket descriptors opened since the load, with the inode each named when listed. */
  readonly sockets: ReadonlyArray<{ readonly fd: number; readonly inode: number }>;
}

export interface CutAnswer {
  /** Each connection cut (or left, in round `left`), in words ('unix socket: rank 0 fd 23 <-> rank 1 fd 25'). */
  readonly cut: readonly string[];
  /** Why nothing could be cut on this machine (no `ss`, no `perl`, pidfd_getfd refused). */
  readonly unavailable?: string;
}

/** Where the companion BTL of a kit job puts its sockets: removed when the job ends, even a killed one. */
export const SCRATCH_ENV = 'SWITCHYARD_KIT_SCRATCH';

export const STOP_DIR = 'kit-stop';

export function stopFile(kind: 'request' | 'stopped' | 'continued' | 'release', phase: string, rank: number): string {
  return `${kind}-${phase}-${rank}`;
}

/** The control job's configuration. */
export interface TrafficConfig {
  readonly component: string;
  /** The kit writes this file to tell the ranks to finish. */
  readonly stopFile: string;
  /** Rank 0 writes the job id here once traffic flows. */
  readonly readyFile: string;
}

/** What a traffic rank reports at the end: messages per source, and what was wrong with them. */
export interface TrafficReport {
  readonly rank: number;
  readonly iterations: number;
  readonly received: readonly number[];
  readonly problems: readonly string[];
}

export const REPORT_PREFIX = 'KIT-REPORT ';
export const START_PREFIX = 'KIT-START ';
export const TRAFFIC_PREFIX = 'KIT-TRAFFIC ';

/** The lines a job printed with `prefix`, parsed (a rank's `--tag-output` prefix is allowed). */
export function linesWith<T>(stdout: string, prefix: string): T[] {
  const out: T[] = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.replace(/^\[\d+\] /, '');
    if (!line.startsWith(prefix)) continue;
    try {
      out.push(JSON.parse(line.slice(prefix.length)) as T);
    } catch {
      // A line cut by a rank's death: the missing report is reported instead.
    }
  }
  return out;
}
