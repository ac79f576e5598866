import { BtlFlag, type BtlEndpoint, type BtlModule, type BtlProc } from '../src/index.js';

/** Ranks 0 and 1 on one host: rank 0's view in these tests. */
export const procs: BtlProc[] = [0, 1].map((rank) => ({ rank, hostname: 'here', local: true, cards: [] }));

/** A module of rank 0 that reaches rank 1 and does nothing else: tests make it do what they need. */
export class PeerModule implements BtlModule {
  readonly name: string;
  readonly flags: number;
  readonly exclusivity: number;
  readonly latency = 1;
  readonly bandwidth: number;
  readonly eagerLimit = 1024;
  readonly maxSendSize = 4096;
  readonly businessCard = null;
  readonly endpoint: BtlEndpoint = Object.freeze({ rank: 1, module: this });

  constructor(
    readonly component: string,
    { flags = BtlFlag.SEND | BtlFlag.ORDERED, exclusivity = 100, bandwidth = 1000 } = {},
  ) {
    this.name = `${component}:0`;
    this.flags = flags;
    this.exclusivity = exclusivity;
    this.bandwidth = bandwidth;
  }

  async addProcs(list: readonly BtlProc[]): Promise<Array<BtlEndpoint | undefined>> {
    return list.map((p) => (p.rank === 1 ? this.endpoint : undefined));
  }
  async delProcs() {}
  send(): boolean {
    return true;
  }
  async flush() {}
  async finalize() {}
}
