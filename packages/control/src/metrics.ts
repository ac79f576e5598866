import { createServer, type Server } from 'node:http';
import { isRankStatusFailure, type CtlStatus } from './coordinator.js';

/** A metric: its name, type and help, as the docs list them (docs/running-jobs.md). */
interface Metric {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
}

const m = (name: string, type: Metric['type'], help: string): Metric => ({ name, type, help });

/** Every metric the endpoint serves; docs/running-jobs.md lists the same names. */
export const METRICS = {
  ranks: m('switchyard_job_ranks', 'gauge', 'Ranks in the job.'),
  up: m('switchyard_rank_up', 'gauge', '1 when the rank answered the status request, 0 when it did not.'),
  busy: m('switchyard_rank_busy_seconds', 'gauge', 'How long the rank has been busy in application code (0: not busy).'),
  fragsSent: m('switchyard_btl_fragments_sent_total', 'counter', 'Fragments the rank sent over the BTL.'),
  bytesSent: m('switchyard_btl_bytes_sent_total', 'counter', 'Bytes the rank sent over the BTL.'),
  fragsReceived: m('switchyard_btl_fragments_received_total', 'counter', 'Fragments the rank received over the BTL.'),
  bytesReceived: m('switchyard_btl_bytes_received_total', 'counter', 'Bytes the rank received over the BTL.'),
  linkFailures: m('switchyard_btl_failures', 'gauge', 'Links and modules of the rank out of service.'),
  outstanding: m('switchyard_pml_requests_outstanding', 'gauge', 'Send and receive requests not complete yet.'),
  posted: m('switchyard_pml_posted_receives', 'gauge', 'Receives posted and not matched, per source (peer="any": ANY_SOURCE).'),
  unexpected: m('switchyard_pml_unexpected_messages', 'gauge', 'Messages arrived before a matching receive, per sender.'),
  unexpectedBytes: m('switchyard_pml_unexpected_bytes', 'gauge', 'Bytes of those unexpected messages, per sender.'),
  rndvSending: m('switchyard_pml_rendezvous_sending', 'gauge', 'Large (rendezvous) messages being sent, per destination.'),
  rndvReceiving: m('switchyard_pml_rendezvous_receiving', 'gauge', 'Large (rendezvous) messages being received, per sender.'),
  queued: m('switchyard_pml_queued_sends', 'gauge', 'Sends waiting for room on a module or in the failover window, per destination.'),
  delayP99: m('switchyard_event_loop_delay_p99_seconds', 'gauge', '99th percentile of the event-loop delay over the last second.'),
  delayMax: m('switchyard_event_loop_delay_max_seconds', 'gauge', 'Largest event-loop delay over the last second.'),
  heapUsed: m('switchyard_heap_used_bytes', 'gauge', 'V8 heap in use.'),
  heapTotal: m('switchyard_heap_total_bytes', 'gauge', 'V8 heap allocated.'),
  rss: m('switchyard_resident_memory_bytes', 'gauge', 'Resident set size of the rank process.'),
} as const;

type Labels = Readonly<Record<string, string | number>>;

/** The job's status in Prometheus' text exposition format (version 0.0.4). */
export function renderMetrics(status: CtlStatus): string {
  const samples = new Map<Metric, string[]>();
  const put = (metric: Metric, labels: Labels, value: number) => {
    const text = Object.entries({ job: status.jobId, ...labels })
      .map(([k, v]) => `${k}="${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
      .join(',');
    let list = samples.get(metric);
    if (!list) samples.set(metric, (list = []));
    list.push(`${metric.name}{${text}} ${Number.isFinite(value) ? value : 0}`);
  };
  put(METRICS.ranks, {}, status.size);
  for (const r of status.ranks) {
    const rank = { rank: r.rank };
    put(METRICS.up, rank, isRankStatusFailure(r) ? 0 : 1);
    if (isRankStatusFailure(r)) continue;
    put(METRICS.busy, rank, (r.busy?.forMs ?? 0) / 1000);
    for (const t of r.traffic) {
      const l = { ...rank, btl: t.btl };
      put(METRICS.fragsSent, l, t.fragmentsSent);
      put(METRICS.bytesSent, l, t.bytesSent);
      put(METRICS.fragsReceived, l, t.fragmentsReceived);
      put(METRICS.bytesReceived, l, t.bytesReceived);
    }
    put(METRICS.linkFailures, rank, r.failures?.length ?? 0);
    if (r.pml) {
      put(METRICS.outstanding, rank, r.pml.outstanding);
      put(METRICS.posted, { ...rank, peer: 'any' }, r.pml.postedAnySource);
      for (const p of r.pml.peers) {
        const l = { ...rank, peer: p.rank };
        put(METRICS.posted, l, p.postedReceives);
        put(METRICS.unexpected, l, p.unexpectedMessages);
        put(METRICS.unexpectedBytes, l, p.unexpectedBytes);
        put(METRICS.rndvSending, l, p.rendezvousSending);
        put(METRICS.rndvReceiving, l, p.rendezvousReceiving);
        put(METRICS.queued, l, p.queuedSends);
      }
    }
    if (r.health) {
      put(METRICS.delayP99, rank, r.health.eventLoopDelay.p99Ms / 1000);
      put(METRICS.delayMax, rank, r.health.eventLoopDelay.maxMs / 1000);
      put(METRICS.heapUsed, rank, r.health.heap.usedBytes);
      put(METRICS.heapTotal, rank, r.health.heap.totalBytes);
      put(METRICS.rss, rank, r.health.heap.rssBytes);
    }
  }
  let out = '';
  for (const metric of Object.values(METRICS)) {
    out += `# HELP ${metric.name} ${metric.help}\n# TYPE ${metric.name} ${metric.type}\n`;
    for (const line of samples.get(metric) ?? []) out += `${line}\n`;
  }
  return out;
}

/** Why the metrics endpoint could not be opened: a port in use, an address not of this host. */
export class MetricsListenError extends Error {
  override readonly name = 'MetricsListenError';
  readonly code = 'ERR_SWITCHYARD_METRICS_LISTEN';
}

/**
 * Serves `GET /metrics` on `host:port`: each scrape asks every rank for its status (as `ctl
 * status` does) and answers in Prometheus' text format. Anything else is 404. Off by default:
 * the launcher opens it only when asked (`switchyard run --metrics-port`).
 */
export async function serveMetrics(host: string, port: number, status: () => Promise<CtlStatus>): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    status().then(
      (s) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(renderMetrics(s)),
      (err: Error) => res.writeHead(503, { 'content-type': 'text/plain' }).end(`status unavailable: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new MetricsListenError(`cannot listen on ${host}:${port} for metrics: ${err.code ?? err.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  // A scraper's keep-alive connection must not hold the launcher open once the job ends.
  server.unref();
  return server;
}
