import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Bml, TrafficCounters } from '@switchyard/core-bml';
import type { RankHealth as Health, TrafficRate } from './protocol.js';
import { StalledSendsWatch } from './stalled-sends.js';

/** How often counters are sampled for the rates, and the event-loop delay window closed. */
const SAMPLE_INTERVAL_MS = 1000;
/** The event-loop delay histogram's resolution: fine enough for a stall, cheap enough to leave on. */
const DELAY_RESOLUTION_MS = 10;

interface Sample {
  readonly at: number;
  readonly traffic: Map<string, TrafficCounters>;
}

/**
 * The rank's vital signs for `ctl status`: event-loop delay over the last second (and its worst
 * since start), heap, message / byte rates per BTL over the last one to two seconds, and links
 * whose module holds sends it has not completed for a while. A 1 Hz timer (unref'd: it never
 * keeps a rank alive) takes the samples, off the message path.
 */
export class RankHealthMonitor {
  readonly #bml: Bml;
  readonly #delay: IntervalHistogram;
  readonly #timer: NodeJS.Timeout;
  #samples: Sample[] = [];
  #window = { meanMs: 0, p99Ms: 0, maxMs: 0 };
  #worstMs = 0;
  readonly #stalled = new StalledSendsWatch();

  constructor(bml: Bml) {
    this.#bml = bml;
    this.#delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
    this.#delay.enable();
    this.#samples.push(this.#sample());
    this.#timer = setInterval(() => this.#tick(), SAMPLE_INTERVAL_MS).unref();
  }

  #sample(): Sample {
    return { at: performance.now(), traffic: new Map(this.#bml.trafficByComponent()) };
  }

  #tick(): void {
    const h = this.#delay;
    // The histogram counts the timer's lateness beyond its resolution; nothing recorded is no delay.
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - DELAY_RESOLUTION_MS) : 0);
    this.#window = { meanMs: ms(h.mean), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) };
    this.#worstMs = Math.max(this.#worstMs, this.#window.maxMs);
    h.reset();
    // Two samples: the rate is taken against the older one, so it always spans at least a second.
    this.#samples = [...this.#samples.slice(-1), this.#sample()];
    this.#stalled.sample(this.#bml, performance.now());
  }

  health(): Health {
    const now = this.#sample();
    const then = this.#samples[0]!;
    const seconds = Math.max(1e-3, (now.at - then.at) / 1000);
    const rates: TrafficRate[] = [];
    for (const [btl, c] of now.traffic) {
      const b = then.traffic.get(btl) ?? { fragmentsSent: 0, bytesSent: 0, fragmentsReceived: 0, bytesReceived: 0 };
      const per = (x: number) => Math.round((x / seconds) * 10) / 10;
      rates.push({
        btl,
        fragmentsSentPerSec: per(c.fragmentsSent - b.fragmentsSent),
        bytesSentPerSec: per(c.bytesSent - b.bytesSent),
        fragmentsReceivedPerSec: per(c.fragmentsReceived - b.fragmentsReceived),
        bytesReceivedPerSec: per(c.bytesReceived - b.bytesReceived),
      });
    }
    const m = process.memoryUsage();
    const round = (x: number) => Math.round(x * 100) / 100;
    return {
      eventLoopDelay: {
        meanMs: round(this.#window.meanMs),
        p99Ms: round(this.#window.p99Ms),
        maxMs: round(this.#window.maxMs),
        worstMs: round(this.#worstMs),
      },
      heap: { usedBytes: m.heapUsed, totalBytes: m.heapTotal, rssBytes: m.rss, externalBytes: m.external },
      rates,
      rateWindowMs: Math.round(seconds * 1000),
      uptimeSeconds: Math.round(process.uptime()),
      stalledSends: this.#stalled.stalled(performance.now()),
    };
  }

  close(): void {
    clearInterval(this.#timer);
    this.#delay.disable();
  }
}
