import type { CardAddress, TcpCard } from './card.js';
import { inSubnet, isLoopback, parseCidr } from './interfaces.js';

/**
 * Where to call a peer, best first; empty when it is unreachable.
 *
 * A peer on this host is called on loopback when both cards list a loopback address: that
 * traffic never leaves the machine. Otherwise, as Open MPI's tcp_proc_insert, we only call an
 * address on a network one of our own addresses is on (same family, same prefix, same
 * network); a remote card's loopback addresses are its own, never ours to call.
 */
export function candidateAddresses(mine: TcpCard, theirs: TcpCard, local: boolean): CardAddress[] {
  if (local) {
    const ourLoopback = mine.addresses.filter((a) => isLoopback(a.address, a.family));
    const theirLoopback = theirs.addresses.filter((a) => isLoopback(a.address, a.family));
    if (ourLoopback.length && theirLoopback.length) {
      const shared = (a: CardAddress) => ourLoopback.some((o) => o.family === a.family);
      return [...theirLoopback].sort((a, b) => Number(shared(b)) - Number(shared(a)) || a.family.localeCompare(b.family));
    }
  }
  const out: CardAddress[] = [];
  for (const ours of mine.addresses) {
    if (isLoopback(ours.address, ours.family)) continue;
    const network = parseCidr(ours.cidr);
    if (!network) continue;
    const subnet = { address: ours.address, prefix: network.prefix, family: ours.family };
    for (const t of theirs.addresses) {
      if (isLoopback(t.address, t.family) || out.includes(t)) continue;
      if (parseCidr(t.cidr)?.prefix === network.prefix && inSubnet(t.address, t.family, subnet)) out.push(t);
    }
  }
  return out;
}
