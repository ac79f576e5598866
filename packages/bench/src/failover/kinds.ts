/**
 * The faults `switchyard bench failover` injects, each from outside the job the way the real
 * fault happens, with the transports it needs loaded: what a kind's job runs with, how a fault
 * of the kind is injected, and which transport must carry the traffic again before the next.
 */
import { loadDeviceAdmin } from './device-reset.js';
import { resetJobConnections, tcpResetSkipReason } from './tcp-reset.js';

export const FAULT_KIND_NAMES = ['tcp-reset', 'tcp-reset-failover', 'device-reset'] as const;
export type FaultKindName = (typeof FAULT_KIND_NAMES)[number];

/** How long a tcp-reset-failover link stays out of service before the BML probes it back. */
export const FAILOVER_RECOVERY_INTERVAL_MS = 1000;
/** How long a reset device's openib stays failed before its rank probes it and reloads it. */
export const DEVICE_RECOVERY_INTERVAL_MS = 500;

/** One injected fault. */
export interface Injected {
  /** Epoch ms the fault was set off. */
  readonly at: number;
  /** What was hit: sockets killed, or the device reset. */
  readonly what: string;
  /** How many things were hit (sockets, devices): 0 means nothing was there to fault. */
  readonly count: number;
}

export interface Injector {
  /** Injects fault `index` (from 0) into the job of these ranks' processes. */
  inject(pids: readonly number[], index: number): Promise<Injected>;
}

export interface FaultKind {
  readonly name: FaultKindName;
  /** One line: what is faulted and what should happen. */
  readonly description: string;
  /** The job's parameters (the user's `--mca` come after them and win). */
  readonly mca: ReadonlyArray<readonly [string, string]>;
  /** The transport that carries the traffic, and must again (the job's own recovery) before the next fault. */
  readonly carrier: string;
  /** The injector, or why the kind cannot run here. */
  prepare(): Promise<Injector | string>;
}

const LOOPBACK: [string, string] = ['btl_tcp_if_include', '127.0.0.0/8'];
const SOFT: [string, string] = ['btl_openib_provider', 'soft'];

/** Injects by resetting every btl-tcp connection of the job. */
function tcpResetInjector(): Injector | string {
  const skip = tcpResetSkipReason();
  if (skip) return skip;
  return {
    async inject(pids) {
      const reset = await resetJobConnections(pids);
      return { at: reset.at, what: `${reset.sockets} tcp socket${reset.sockets === 1 ? '' : 's'} killed (ss -K)`, count: reset.sockets };
    },
  };
}

export const FAULT_KINDS: Readonly<Record<FaultKindName, FaultKind>> = {
  'tcp-reset': {
    name: 'tcp-reset',
    description:
      "tcp alone carries the traffic; the job's tcp connections are reset (ss -K): the ranks reconnect and send again what was lost",
    mca: [['btl', 'tcp,self'], LOOPBACK],
    carrier: 'tcp',
    prepare: async () => tcpResetInjector(),
  },
  'tcp-reset-failover': {
    name: 'tcp-reset-failover',
    description: `tcp preferred, openib (soft) loaded beside it; tcp connections reset (ss -K): traffic fails over to openib, tcp is ` +
      `probed back after ${FAILOVER_RECOVERY_INTERVAL_MS} ms`,
    mca: [
      ['btl', 'tcp,openib,self'],
      SOFT,
      LOOPBACK,
      ['btl_tcp_exclusivity', '2000'],
      ['bml_recovery_interval', String(FAILOVER_RECOVERY_INTERVAL_MS)],
    ],
    carrier: 'tcp',
    prepare: async () => tcpResetInjector(),
  },
  'device-reset': {
    name: 'device-reset',
    description: `openib (soft) carries the traffic, tcp loaded; one rank's soft verbs device is reset from outside: traffic fails over ` +
      `to tcp, the rank reloads openib by itself after ${DEVICE_RECOVERY_INTERVAL_MS} ms`,
    mca: [['btl', 'openib,tcp,self'], SOFT, LOOPBACK, ['bml_recovery_interval', String(DEVICE_RECOVERY_INTERVAL_MS)]],
    carrier: 'openib',
    async prepare() {
      const admin = await loadDeviceAdmin();
      if (typeof admin === 'string') return admin;
      return {
        async inject(pids, index) {
          const rank = index % pids.length;
          const reset = await admin.reset(pids[rank]!);
          return { at: reset.at, what: `rank ${rank}'s ${reset.device} reset`, count: 1 };
        },
      };
    },
  },
};
