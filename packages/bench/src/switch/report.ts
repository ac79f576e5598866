import { version } from '@switchyard/mpi';
import { machine } from '../report.js';
import type { SwitchOptions } from './options.js';
import type { RankReport } from './plan.js';
import { fmtBytes, fmtInt, fmtMs, table, verdict } from './format.js';
import { describeVerb } from '@switchyard/control';
import type { SwitchRun } from './run.js';
import { TRAFFIC } from './run.js';
import { BLOCK_THRESHOLD_MS } from './flow.js';
import type { LongestPause, Summary, Throughput } from './summary.js';

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
const round = (value: number, digits: number) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : null);
const ms2 = (value: number) => round(value, 2);

/** Job-wide arrivals per timeline bucket. */
function timeline(run: SwitchRun): { bucketMs: number; start: number; messages: number[] } {
  const { bucketMs, span } = run.order;
  const length = Math.max(0, ...run.ranks.map((r) => r.timeline.length));
  const messages = new Array<number>(length).fill(0);
  for (const r of run.ranks) r.timeline.forEach((n, i) => (messages[i]! += n));
  return { bucketMs, start: Math.floor(span[0] / bucketMs) * bucketMs, messages };
}

const throughputJson = (t: Throughput) => ({
  seconds: round(t.seconds, 3),
  messages: t.messages,
  bytes: t.bytes,
  msgsPerSec: round(t.msgsPerSec, 0),
  bytesPerSec: round(t.bytesPerSec, 0),
});

const pauseJson = (p: LongestPause | null) => (p ? { ...p, ms: ms2(p.ms), from: ms2(p.from), to: ms2(p.to) } : null);

/** The `--json` document. */
export function renderJson(options: SwitchOptions, run: SwitchRun, summary: Summary): string {
  const doc = {
    switchyard: version,
    machine: machine(),
    settings: {
      np: options.np,
      cycles: options.cycles,
      verbs: options.verbs.map((v) => describeVerb(v)),
      gapMs: options.gapMs,
      mca: options.mca,
      traffic: TRAFFIC,
    },
    ok: !run.verbFailure && summary.targets.every((t) => !t.required || t.pass === true),
    error: run.verbFailure ?? null,
    verbs: summary.verbs.map((v) => ({
      verb: v.verb,
      count: v.count,
      failed: v.failed,
      p50: ms2(v.p50),
      p99: ms2(v.p99),
      max: ms2(v.max),
      mean: ms2(v.mean),
      phasesP50: { prepare: ms2(v.phases.prepare), commit: ms2(v.phases.commit), rankCommit: ms2(v.phases.rankCommit) },
      longestPause: v.longestPause ? { ...v.longestPause, ms: ms2(v.longestPause.ms) } : null,
      longestBlock: v.longestBlock ? { ...v.longestBlock, ms: ms2(v.longestBlock.ms) } : null,
      during: throughputJson(v.during),
    })),
    longestPause: pauseJson(summary.longestPause),
    longestPauseBetweenVerbs: pauseJson(summary.longestPauseBetween),
    longestBlock: pauseJson(summary.longestBlock),
    throughput: {
      outside: throughputJson(summary.throughput.outside),
      during: throughputJson(summary.throughput.during),
      ratio: summary.throughput.ratio === null ? null : round(summary.throughput.ratio, 3),
    },
    messages: summary.messages,
    targets: summary.targets.map((t) => ({ ...t, value: t.value === null ? null : t.unit === 'ms' ? ms2(t.value) : t.value })),
    ranks: run.ranks.map((r) => ({
      rank: r.rank,
      pid: r.pid,
      rounds: r.rounds,
      sent: sum(r.sent),
      received: r.messages,
      sentTo: r.sent,
      receivedFrom: r.received,
      messages: r.messages,
      bytes: r.bytes,
      ...r.integrity,
      longestPauseMs: r.longestPause ? ms2(r.longestPause.ms) : null,
      longestBlockMs: r.longestBlock ? ms2(r.longestBlock.ms) : null,
      inside: r.inside,
      outside: r.outside,
    })),
    runs: run.runs.map((r) => ({
      cycle: r.cycle,
      verb: r.verb,
      start: ms2(r.start),
      end: ms2(r.end),
      ms: ms2(r.ms),
      coordinatorMs: r.coordinatorMs,
      prepareMs: r.prepareMs === null ? null : ms2(r.prepareMs),
      commitMs: r.commitMs === null ? null : ms2(r.commitMs),
      rankCommitMs: r.rankCommitMs === null ? null : ms2(r.rankCommitMs),
      lastRank: r.lastRank,
      outcome: r.outcome,
      ...(r.errors.length ? { errors: r.errors } : {}),
    })),
    span: { start: ms2(run.order.span[0]), end: ms2(run.order.span[1]) },
    timeline: timeline(run),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** A row per rank: what it sent and received, and its longest pause. */
export function rankTable(ranks: readonly RankReport[]): string {
  return table(
    ['rank', 'sent', 'received', 'rounds', 'longest pause ms'],
    ranks.map((r) => [String(r.rank), fmtInt(sum(r.sent)), fmtInt(r.messages), fmtInt(r.rounds), fmtMs(r.longestPause?.ms)]),
  );
}

/** The readable report. */
export function renderText(options: SwitchOptions, run: SwitchRun, summary: Summary): string {
  const m = machine();
  let out = `switchyard bench switch: ${options.np} ranks, ${options.cycles} cycle${options.cycles === 1 ? '' : 's'}; Node ${m.node}, ` +
    `${m.platform} ${m.arch}, ${m.cpus} x ${m.cpuModel}\n`;
  out += `job: ${options.mca.map(([k, v]) => `--mca ${k} ${v}`).join(' ')}\n`;
  out += `traffic: all-to-all, to each peer in rounds: ${TRAFFIC.smallMin}-${TRAFFIC.smallMax} B messages, every ${TRAFFIC.rndvEvery}th ` +
    `${TRAFFIC.rndvSize / 1024} KiB (rendezvous); verbs ${options.gapMs} ms apart\n`;

  out += `\nVerbs: time from command to completion, ms, with the p50 of its phases (prepare, commit: request to`;
  out += `\nthe last rank's answer; in rank: the slowest rank's own commit time); while verbs of the kind ran:`;
  out += `\nthe longest pause in any rank's message flow (rank), the longest event-loop block, msgs/s\n`;
  out += table(
    ['verb', 'count', 'p50', 'p99', 'max', 'prepare', 'commit', 'in rank', 'pause', '', 'block', 'msgs/s'],
    summary.verbs.map((v) => [
      v.verb,
      v.failed ? `${v.count} (${v.failed} failed)` : String(v.count),
      fmtMs(v.p50),
      fmtMs(v.p99),
      fmtMs(v.max),
      fmtMs(v.phases.prepare),
      fmtMs(v.phases.commit),
      fmtMs(v.phases.rankCommit),
      fmtMs(v.longestPause?.ms),
      v.longestPause ? `(${v.longestPause.rank})` : '',
      fmtMs(v.longestBlock?.ms),
      v.during.seconds > 0 ? fmtInt(v.during.msgsPerSec) : '-',
    ]),
  );

  const p = summary.longestPause;
  const { outside, during, ratio } = summary.throughput;
  const msg = summary.messages;
  out += `\nMessage flow (every rank's arrivals, ${((run.order.span[1] - run.order.span[0]) / 1000).toFixed(1)} s measured)\n`;
  const where = (x: LongestPause) =>
    `${fmtMs(x.ms)} ms, rank ${x.rank}, ${x.verb ? `during ${x.verb} (cycle ${x.cycle})` : 'between verbs'}`;
  out += `  longest pause   ${p ? where(p) : '-'}\n`;
  const q = summary.longestPauseBetween;
  out += `  between verbs   ` +
    `${q ? `${fmtMs(q.ms)} ms, rank ${q.rank} (the flow's own longest pause, with no verb running: a baseline)` : '-'}\n`;
  out += `  longest block   ${summary.longestBlock ? `${where(summary.longestBlock)} (event loop late)` : `none of ${BLOCK_THRESHOLD_MS} ` +
    `ms or more`}\n`;
  out += `  throughput      ${fmtInt(outside.msgsPerSec)} msgs/s outside verbs (${outside.seconds.toFixed(1)} s), ` +
    `${fmtInt(during.msgsPerSec)} msgs/s during verbs (${during.seconds.toFixed(1)} s)${ratio === null ? '' : `: ${ratio.toFixed(2)}x`}\n`;
  out += `  messages        ${fmtInt(msg.received)} received (${fmtBytes(msg.bytes)}) in ${fmtInt(msg.rounds)} rounds: ${msg.lost} lost, ` +
    `${msg.duplicates} duplicated, ${msg.reordered} reordered, ${msg.corrupt} damaged${msg.unbalanced ? `, ${msg.unbalanced} missing or ` +
      `extra` : ''}\n`;

  out += `\nRanks: messages each sent (sends completed) and received over the whole run, and the longest\npause in its flow (a starved ` +
    `rank shows here)\n`;
  out += rankTable(run.ranks);

  out += `\nTargets (a measurement: a MISS does not fail the command; loss does)\n`;
  out += table(
    ['target', 'measured', ''],
    summary.targets.map((t) => [t.name, t.value === null ? '-' : t.unit === 'ms' ? `${fmtMs(t.value)} ms` : String(t.value), verdict(t)]),
  );
  if (run.verbFailure) out += `\nFAILED: ${run.verbFailure}\n`;
  return out;
}
