import { version } from '@switchyard/mpi';
import { machine } from '../report.js';
import { fmtInt, fmtMs, table, verdict } from '../switch/format.js';
import { rankTable } from '../switch/report.js';
import { TRAFFIC } from '../switch/stream-job.js';
import { FAULT_KINDS } from './kinds.js';
import type { FailoverOptions } from './options.js';
import type { FailoverRun } from './run.js';
import { OBSERVE_MS } from './run.js';
import type { FailoverSummary, KindSummary } from './summary.js';

const ms2 = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? null : Number(v.toFixed(2)));

/** The `--json` document. */
export function renderJson(options: FailoverOptions, run: FailoverRun, summary: FailoverSummary): string {
  const doc = {
    switchyard: version,
    machine: machine(),
    settings: {
      np: options.np,
      faults: options.faults,
      intervalMs: options.intervalMs,
      kinds: options.kinds,
      iterationsScale: options.iterationsScale,
      mca: options.mca,
      observeMs: OBSERVE_MS,
      traffic: TRAFFIC,
    },
    ok: summary.complete && summary.targets.every((t) => !t.required || t.pass !== false),
    kinds: summary.kinds.map((k, i) => ({
      kind: k.kind,
      description: k.description,
      mca: k.mca,
      skipped: k.skipped,
      error: k.error,
      faults: k.faults.length,
      injected: k.injected,
      recovery: k.recovery ? { p50: ms2(k.recovery.p50), p99: ms2(k.recovery.p99), max: ms2(k.recovery.max) } : null,
      longestPause: k.longestPause ? { ...k.longestPause, ms: ms2(k.longestPause.ms) } : null,
      longestPauseInRun: k.longestPauseInRun
        ? { ...k.longestPauseInRun, ms: ms2(k.longestPauseInRun.ms), afterMs: ms2(k.longestPauseInRun.afterMs) }
        : null,
      back: k.back ? { p50: ms2(k.back.p50), max: ms2(k.back.max) } : null,
      messages: k.messages,
      perFault: k.faults.map((f) => ({
        at: ms2(f.at),
        what: f.what,
        count: f.count,
        recoveryMs: ms2(f.recoveryMs),
        pauseMs: ms2(f.pauseMs),
        pauseRank: f.pauseRank,
        backMs: ms2(f.backMs),
      })),
      ranks: (run.kinds[i]!.ranks ?? []).map((r) => ({
        rank: r.rank,
        pid: r.pid,
        rounds: r.rounds,
        sent: r.sent.reduce((a, b) => a + b, 0),
        received: r.messages,
        ...r.integrity,
        longestPauseMs: r.longestPause ? ms2(r.longestPause.ms) : null,
      })),
    })),
    cost: {
      error: summary.cost.error,
      latency: summary.cost.latency && {
        ...summary.cost.latency,
        on: ms2(summary.cost.latency.on),
        off: ms2(summary.cost.latency.off),
        unit: 'us',
      },
      bandwidth: summary.cost.bandwidth && {
        ...summary.cost.bandwidth,
        on: ms2(summary.cost.bandwidth.on),
        off: ms2(summary.cost.bandwidth.off),
        unit: 'MB/s',
      },
    },
    targets: summary.targets,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function kindRow(k: KindSummary): string[] {
  const m = k.messages;
  const status = k.skipped ? 'skipped' : k.error ? 'stopped' : 'ran';
  return [
    k.kind,
    status,
    String(k.faults.length),
    fmtMs(k.recovery?.p50),
    fmtMs(k.recovery?.p99),
    fmtMs(k.longestPause?.ms),
    m ? String(m.lost + m.unbalanced) : '-',
    m ? String(m.duplicates) : '-',
    m ? String(m.reordered) : '-',
    m ? String(m.corrupt) : '-',
  ];
}

/** The readable report. */
export function renderText(options: FailoverOptions, run: FailoverRun, summary: FailoverSummary): string {
  const m = machine();
  let out = `switchyard bench failover: ${options.np} ranks, ${options.faults} fault${options.faults === 1 ? '' : 's'} per kind ` +
    `${options.intervalMs} ms apart; Node ${m.node}, ${m.platform} ${m.arch}, ${m.cpus} x ${m.cpuModel}\n`;
  out += `traffic: all-to-all, to each peer in rounds: ${TRAFFIC.smallMin}-${TRAFFIC.smallMax} B messages, every ${TRAFFIC.rndvEvery}th ` +
    `${TRAFFIC.rndvSize / 1024} KiB (rendezvous)\n`;

  out += `\nFaults: recovery is the time from a fault to every rank's flow going again (the end of the longest`;
  out += `\npause overlapping the ${OBSERVE_MS} ms after it), ms; the longest such pause; messages lost, duplicated, reordered, damaged\n`;
  out += table(
    ['kind', 'status', 'faults', 'p50', 'p99', 'pause', 'lost', 'dup', 'reord', 'damaged'],
    summary.kinds.map(kindRow),
  );
  for (const [i, k] of summary.kinds.entries()) {
    out += `\n${k.kind}: ${k.description}\n`;
    out += `  job: ${k.mca.map(([key, v]) => `--mca ${key} ${v}`).join(' ')}\n`;
    if (k.skipped) {
      out += `  skipped: ${k.skipped}\n`;
      continue;
    }
    if (k.faults.length)
      out += `  faults: ${k.faults
        .map((f) => f.what)
        .filter((w, j, all) => all.indexOf(w) === j)
        .slice(0, 3)
        .join('; ')}${k.faults.length > 3 ? '; ...' : ''}\n`;
    if (k.recovery) {
      const pause = k.longestPause;
      const longest = pause ? `; longest pause ${fmtMs(pause.ms)} ms (rank ${pause.rank}, fault ${pause.fault})` : '';
      out += `  recovery ms: p50 ${fmtMs(k.recovery.p50)}, p99 ${fmtMs(k.recovery.p99)}, max ${fmtMs(k.recovery.max)}${longest}\n`;
    }
    const any = k.longestPauseInRun;
    if (any)
      out += `  longest pause in the run: ${fmtMs(any.ms)} ms (rank ${any.rank}${any.fault ? `, began ${fmtMs(any.afterMs)} ms after ` +
        `fault ${any.fault}` : ', before the first fault'})\n`;
    if (k.back)
      out += `  ${FAULT_KINDS[k.kind].carrier} back on every link (the job's own recovery, polled): p50 ${fmtMs(k.back.p50)} ms, max ` +
        `${fmtMs(k.back.max)} ms\n`;
    if (k.messages) out += `  messages: ${fmtInt(k.messages.received)} received in ${fmtInt(k.messages.rounds)} rounds\n`;
    const ranks = run.kinds[i]!.ranks;
    if (ranks?.length) out += rankTable(ranks);
    if (k.error) out += `  STOPPED: ${k.error}\n`;
  }

  const c = summary.cost;
  out += `\nCost of the protection (tcp, pml_failover true against false, turns batch by batch)\n`;
  if (c.error) out += `  not measured: ${c.error}\n`;
  else {
    out += table(
      ['measure', 'failover on', 'off', 'cost'],
      [
        ...(c.latency
          ? [['latency 0 B, µs', c.latency.on.toFixed(2), c.latency.off.toFixed(2), `${(c.latency.cost * 100).toFixed(1)}%`]]
          : []),
        ...(c.bandwidth
          ? [['bandwidth 4 KiB, MB/s', c.bandwidth.on.toFixed(1), c.bandwidth.off.toFixed(1), `${(c.bandwidth.cost * 100).toFixed(1)}%`]]
          : []),
      ],
    );
  }

  out += `\nTargets (a measurement: a MISS does not fail the command; loss does)\n`;
  out += table(
    ['target', 'measured', ''],
    summary.targets.map((t) => [
      t.name,
      t.value === null ? '-' : t.unit === 'ms' ? `${fmtMs(t.value)} ms` : t.unit === '%' ? `${t.value}%` : String(t.value),
      verdict(t),
    ]),
  );
  return out;
}
