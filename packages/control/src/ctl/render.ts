/**
 * What `switchyard ctl` prints: the jobs table, the per-rank status report and a verb's outcome.
 * Pure functions of the data, so they are easy to test and to keep stable.
 */
import type { JobRecord } from '@switchyard/runtime';
import { groupRanks, rankLabel } from '../coordinator-group.js';
import { isRankStatusFailure, type CtlStatus } from '../coordinator.js';
import { ANY_SOURCE, ANY_TAG, type PmlState } from '@switchyard/pml';
import type { RankHealth, RankStatus, VerbProgress, VerbResult } from '../protocol.js';

/** A job record as `ctl jobs --json` shows it: everything but the secret. */
export function publicJob(job: JobRecord): Omit<JobRecord, 'secret'> {
  const { secret: _secret, ...rest } = job;
  return rest;
}

/**
 * One line per job. LAUNCHER says who started the ranks (`switchyard` run, or `pmix`: mpirun or
 * srun, with a rank as controller); PID is the launcher's, or the controlling rank's (on HOST).
 */
export function renderJobs(jobs: readonly JobRecord[]): string {
  if (jobs.length === 0) return 'no switchyard job of this user is running\n';
  return table(
    ['ID', 'RANKS', 'STARTED', 'LAUNCHER', 'PID', 'STATE', 'SCRIPT'],
    jobs.map((j) => [
      j.jobId,
      String(j.np),
      localTime(j.startTime),
      j.launcher ?? 'switchyard',
      j.host ? `${j.pid}@${j.host}` : String(j.pid),
      j.stale ? 'stale (controller not answering)' : 'running',
      [j.script, ...j.args].join(' '),
    ]),
    [false, true, false, false, true, false, false],
  );
}

export function renderStatus(status: CtlStatus, only?: readonly number[]): string {
  const script = [status.script, ...status.args].filter(Boolean).join(' ');
  const coordinator = status.controller ? `controller: ${status.controller}, pid ${status.pid}` : `launcher pid ${status.pid}`;
  let out = `job ${status.jobId} (${coordinator}): ${status.size} rank${status.size === 1 ? '' : 's'}`;
  if (status.started) out += `, started ${localTime(status.started)}`;
  if (script) out += `\n  script: ${script}`;
  out += '\n';
  if (status.verb?.verb) out += `  verb in progress: ${describeProgress(status.verb)}\n`;
  if (status.lastFailure) out += `  last verb failed: ${status.lastFailure.verb}\n${renderOutcomes(status.lastFailure.ranks, '    ')}`;
  const ranks = only ? status.ranks.filter((r) => only.includes(r.rank)) : status.ranks;
  for (const r of ranks) {
    if (!isRankStatusFailure(r)) out += `\n${renderRank(r)}`;
    else out += `\nrank ${r.rank}${r.pid ? ` (pid ${r.pid})` : ''}: no answer (${r.state}): ${r.error}\n`;
  }
  return out;
}

function renderRank(r: RankStatus): string {
  let out = `rank ${r.rank} (pid ${r.pid} on ${r.hostname}):\n`;
  // Its thread is not answering: what follows is what it published before.
  if (r.busy)
    out += `  busy in application code for ${seconds(r.busy.forMs)} (takes verbs when its code next waits); as it was before:\n`;
  const components = r.components.map(
    (c) => `${c.name} [${c.modules.join(', ') || 'no modules'}]${c.checkpointable ? ' (checkpointable)' : ''}`,
  );
  out += `  components: ${components.join(', ') || 'none'}\n`;
  for (const g of groupRanks(
    r.peers.map((p) => [p.rank, peerLine(p)] as const),
    (line) => line,
  )) {
    out += `  ${rankLabel(g.ranks, 'peer')}: ${g.value}\n`;
  }
  if (r.traffic.length) {
    const rows = r.traffic.map((t) => [
      t.btl,
      count(t.fragmentsSent),
      bytes(t.bytesSent),
      count(t.fragmentsReceived),
      bytes(t.bytesReceived),
    ]);
    out += '  traffic:\n';
    out += indent(
      table(['BTL', 'FRAGS SENT', 'BYTES SENT', 'FRAGS RECEIVED', 'BYTES RECEIVED'], rows, [false, true, true, true, true]),
      '    ',
    );
  }
  if (r.health) out += renderHealth(r.health);
  if (r.pml) out += renderPml(r.pml);
  const params = Object.entries(r.runtimeParams ?? {});
  if (params.length) out += `  runtime parameters: ${params.map(([k, v]) => `${k}=${v}`).join(', ')}\n`;
  if (r.pendingVerb) out += `  prepared, not committed: ${r.pendingVerb}\n`;
  if (r.checkpoint) out += `  checkpoint: ${r.checkpoint}\n`;
  for (const f of r.failures ?? []) {
    const what =
      f.severity === 'fatal'
        ? `module ${f.module} failed`
        : `link ${f.module} -> rank ${f.peer} failed${f.severity === 'peer' ? ' (its module there failed)' : ''}`;
    out += `  ${what} at ${localTime(f.at)}: ${f.error}\n`;
  }
  if (r.partialVerb) {
    out += `  partly applied: ${r.partialVerb.verb}: ${r.partialVerb.error}\n`;
    out += r.partialVerb.applied.map((c) => `    still applied: ${c}\n`).join('');
    out += `    ('switchyard ctl reset' brings the job back to its configuration)\n`;
  }
  return out;
}

/** Event-loop delay and heap on one line, then the rates per BTL that carried anything. */
function renderHealth(h: RankHealth): string {
  const d = h.eventLoopDelay;
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const delay = `mean ${ms(d.meanMs)}, p99 ${ms(d.p99Ms)}, max ${ms(d.maxMs)}`;
  let out = `  event loop delay (last 1 s): ${delay}; worst since start ${ms(d.worstMs)}\n`;
  const heap = h.heap;
  out += `  heap ${bytes(heap.usedBytes)} of ${bytes(heap.totalBytes)}, rss ${bytes(heap.rssBytes)}`;
  out += `, external ${bytes(heap.externalBytes)}\n`;
  for (const s of h.stalledSends ?? []) {
    out += `  link ${s.module} -> rank ${s.peer}: ${s.sends} send(s) held by its module, none completed for`;
    out += ` ${(s.forMs / 1000).toFixed(1)} s (rank ${s.peer} is not reading, or the module lost them)\n`;
  }
  const moving = h.rates.filter((t) => t.fragmentsSentPerSec + t.fragmentsReceivedPerSec > 0);
  if (!moving.length) return `${out}  rates: idle\n`;
  const rows = moving.map((t) => [
    t.btl,
    count(Math.round(t.fragmentsSentPerSec)),
    `${bytes(Math.round(t.bytesSentPerSec))}/s`,
    count(Math.round(t.fragmentsReceivedPerSec)),
    `${bytes(Math.round(t.bytesReceivedPerSec))}/s`,
  ]);
  out += `  rates (over ${(h.rateWindowMs / 1000).toFixed(1)} s):\n`;
  const header = ['BTL', 'FRAGS/S SENT', 'SENT', 'FRAGS/S RECEIVED', 'RECEIVED'];
  return out + indent(table(header, rows, [false, true, true, true, true]), '    ');
}

/** The PML's queues per peer, then the oldest posted receives and unexpected messages themselves. */
function renderPml(p: PmlState): string {
  const idle = !p.peers.length && !p.postedAnySource;
  let out = `  pml: ${count(p.outstanding)} requests outstanding${idle ? ', nothing queued' : ''}\n`;
  if (p.busyPolling) out += '    waits poll (pml_busy_poll)\n';
  if (p.busyPollStopped) out += `    busy polling off: ${p.busyPollStopped}\n`;
  if (p.postedAnySource) out += `    ${p.postedAnySource} receive(s) posted from any source\n`;
  const r = p.rdma;
  if (r && (r.rgetSent || r.pulled || r.fallbacks)) {
    out += `    rdma: ${count(r.rgetSent)} large sends left for get, ${count(r.pulled)} pulled (${bytes(r.pulledBytes)}), `;
    out += `${count(r.fallbacks)} fell back to fragments; `;
    out += `${count(r.put)} second halves put (${bytes(r.putBytes)}), ${count(r.takenBack)} taken back; `;
    out += `registrations ${count(r.registrations)}, reused ${count(r.registrationHits)}\n`;
  }
  if (p.peers.length) {
    const rows = p.peers.map((q) => [
      String(q.rank),
      count(q.postedReceives),
      `${count(q.unexpectedMessages)} (${bytes(q.unexpectedBytes)})`,
      count(q.rendezvousSending),
      count(q.rendezvousReceiving),
      count(q.queuedSends),
    ]);
    const header = ['PEER', 'POSTED RECVS', 'UNEXPECTED', 'RNDV SENDING', 'RNDV RECEIVING', 'QUEUED SENDS'];
    out += indent(table(header, rows, [true, true, true, true, true, true]), '    ');
  }
  const tag = (t: number) => (t === ANY_TAG ? 'any tag' : `tag ${t}`);
  const source = (s: number) => (s === ANY_SOURCE ? 'any source' : `rank ${s}`);
  // Named always: a receive waiting on another communicator than the message is a common hang.
  const ctx = (c: number) => (c === 0 ? ', world' : `, context ${c}`);
  for (const e of p.posted) out += `    posted: recv from ${source(e.source)}, ${tag(e.tag)}${ctx(e.ctx)}\n`;
  for (const e of p.unexpected) out += `    unexpected: ${bytes(e.size ?? 0)} from rank ${e.source}, ${tag(e.tag)}${ctx(e.ctx)}\n`;
  return out;
}

/** Where each rank stands after a failed verb, ranks in the same state grouped. */
export function renderOutcomes(ranks: NonNullable<VerbResult['ranks']>, prefix = '  '): string {
  let out = '';
  for (const g of groupRanks(
    ranks.map((r) => [r.rank, r] as const),
    (r) => JSON.stringify([r.state, r.applied, r.error ?? '']),
  )) {
    const r = g.value;
    out += `${prefix}${rankLabel(g.ranks)}: ${r.state}${r.error ? ` (${r.error})` : ''}\n`;
    for (const c of r.applied) out += `${prefix}  still applied: ${c}\n`;
  }
  return out;
}

/** `send tcp, eager tcp`, then `rdma` and modules that reach the peer but carry nothing, when any. */
function peerLine(p: RankStatus['peers'][number]): string {
  const list = (names: readonly string[]) => (names.length ? names.join('+') : 'none');
  const parts = [`send ${list(p.send)}`, `eager ${list(p.eager)}`];
  if (p.rdma.length) parts.push(`rdma ${list(p.rdma)}`);
  const used = new Set([...p.send, ...p.eager, ...p.rdma]);
  const idle = (p.reachable ?? []).filter((m) => !used.has(m));
  if (idle.length) parts.push(`idle ${idle.join('+')}`);
  if (p.fallback) parts.push('fallback: the transports switched to failed');
  return parts.join(', ');
}

export function describeProgress(p: VerbProgress): string {
  if (!p.phase) return `${p.verb ?? 'idle'}`;
  const busy = (p.busy ?? []).map((b) => `waiting for rank ${b.rank}: busy in application code for ${seconds(b.forMs)}`);
  return [`${p.verb}: ${p.phase} ${p.done}/${p.total} ranks`, ...busy].join('; ');
}

/** `3.4 s`: a busy spell, to a tenth of a second. */
function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Changes said once for the whole job, above those per rank. */
function renderJobChanges(lines: VerbResult['jobChanges']): string {
  return (lines ?? []).map((line) => `  job: ${line}\n`).join('');
}

/** Changes per rank, ranks with the same list grouped: `ranks 0-3: now sending over tcp`. */
export function renderChanges(changes: VerbResult['changes']): string {
  let out = '';
  for (const g of groupRanks(
    changes.map((c) => [c.rank, c.changes] as const),
    (list) => JSON.stringify(list),
  )) {
    const label = rankLabel(g.ranks);
    if (g.value.length === 1) out += `  ${label}: ${g.value[0]}\n`;
    else out += `  ${label}:\n${g.value.map((c) => `    ${c}\n`).join('')}`;
  }
  return out;
}

/** The outcome of a verb: what goes to stdout, and the message for stderr when it did not succeed. */
export function renderVerbResult(result: VerbResult): { stdout: string; stderr: string } {
  const reasons = summarizeErrors(result.errors);
  const time = `${formatMs(result.ms)}`;
  switch (result.outcome) {
    case 'done':
      if (!result.changes.length && !result.jobChanges?.length) {
        return { stdout: `${result.verb}: done in ${time}; nothing changed\n`, stderr: '' };
      }
      return {
        stdout: `${result.verb}: done in ${time}\n${renderJobChanges(result.jobChanges)}${renderChanges(result.changes)}`,
        stderr: '',
      };
    case 'refused':
      return { stdout: '', stderr: `refused: ${reasons}; nothing changed` };
    case 'failed': {
      let stdout = result.changes.length ? `${result.verb}: failed after ${time}; changes made:\n${renderChanges(result.changes)}` : '';
      if (result.ranks?.length)
        stdout += `${stdout ? '' : `${result.verb}: failed after ${time}\n`}after the rollback:\n${renderOutcomes(result.ranks)}`;
      return { stdout, stderr: `failed: ${reasons || 'no reason given'}` };
    }
  }
}

/**
 * The errors of a verb, one sentence per distinct reason: the same refusal from every rank of a
 * 64-rank job reads once, with the ranks it came from ("ranks 0-63: btl 'foo' is not loaded ...").
 */
export function summarizeErrors(errors: VerbResult['errors']): string {
  const groups = new Map<string, { messages: string[]; ranks: number[] }>();
  const unranked: string[] = [];
  for (const e of errors) {
    if (e.rank === undefined) {
      unranked.push(e.message);
      continue;
    }
    const own = new RegExp(`\\brank ${e.rank}\\b`, 'g');
    const template = e.message.replace(new RegExp(`^rank ${e.rank}: `), '').replace(own, '\u0000');
    const group = groups.get(template) ?? { messages: [], ranks: [] };
    group.messages.push(e.message);
    group.ranks.push(e.rank);
    groups.set(template, group);
  }
  const ranked = [...groups].map(([template, { messages, ranks }]) => {
    if (ranks.length === 1) return messages[0]!;
    const label = rankLabel([...new Set(ranks)].sort((a, b) => a - b));
    // "\0 exited with code 3" reads "ranks 0,2 exited ..."; otherwise the ranks lead the sentence.
    return template.startsWith('\u0000')
      ? `${label}${plural(template.slice(1)).replaceAll('\u0000', 'each')}`
      : `${label}: ${template.replaceAll('\u0000', 'each')}`;
  });
  return [...ranked, ...unranked].join('; ');
}

const PLURAL_VERBS: Readonly<Record<string, string>> = { is: 'are', has: 'have', was: 'were', does: 'do' };

/** " is already prepared" after "ranks 0-3": " are already prepared". */
function plural(rest: string): string {
  return rest.replace(/^ (is|has|was|does)\b/, (_, verb: string) => ` ${PLURAL_VERBS[verb]}`);
}

export function formatMs(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms >= 100 ? Math.round(ms) : ms.toFixed(1)} ms`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `2025-03-01 14:02:33` in local time; the text itself when it is not a date. */
function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function table(header: string[], rows: string[][], right: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `${cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()}\n`;
  return [header, ...rows].map(line).join('');
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => (l ? prefix + l : l))
    .join('\n');
}
