import type { Socket } from 'node:net';
import type { BtlModule } from '@switchyard/btl-interface';
import { CompanionModule } from '../companion/module.js';

/**
 * Descriptors of the sockets the job's own transport holds now: the kit's companion, which the
 * runtime runs the job on, connects to a peer when the runtime first sends there, which may be
 * at any time after the component under test was loaded. They are never the module's: rule
 * link-cut neither cuts them nor counts them as left open.
 */
export function runtimeSocketFds(modules: Iterable<BtlModule>): Set<number> {
  const fds = new Set<number>();
  for (const module of modules) {
    if (!(module instanceof CompanionModule)) continue;
    const sockets: Socket[] = [...module.accepted, ...[...module.peers.values()].flatMap((p) => (p.socket ? [p.socket] : []))];
    for (const socket of sockets) {
      const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd === 'number' && fd >= 0) fds.add(fd);
    }
  }
  return fds;
}
