import { BlockList, isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

export type Family = 'IPv4' | 'IPv6';

/** One address this host could listen on. */
export interface LocalAddress {
  readonly interface: string;
  readonly address: string;
  readonly family: Family;
  readonly prefix: number;
  /** `address/prefix`, as `os.networkInterfaces()` gives it. */
  readonly cidr: string;
  readonly loopback: boolean;
}

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: Family;
}

/** `10.0.0.0/8`, `fd00::/64`; undefined if the text is not one. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash).trim();
  const prefixText = text.slice(slash + 1).trim();
  const version = isIP(address);
  if (version === 0 || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (version === 4 ? 32 : 128)) return undefined;
  return { address, prefix, family: version === 4 ? 'IPv4' : 'IPv6' };
}

export function inSubnet(address: string, family: Family, subnet: Cidr): boolean {
  if (family !== subnet.family) return false;
  const list = new BlockList();
  const type = family === 'IPv4' ? 'ipv4' : 'ipv6';
  list.addSubnet(subnet.address, subnet.prefix, type);
  return list.check(address, type);
}

const LOOPBACK_V4: Cidr = { address: '127.0.0.0', prefix: 8, family: 'IPv4' };
const LOOPBACK_V6: Cidr = { address: '::1', prefix: 128, family: 'IPv6' };
const LINK_LOCAL_V6: Cidr = { address: 'fe80::', prefix: 10, family: 'IPv6' };

export function isLoopback(address: string, family: Family): boolean {
  return inSubnet(address, family, family === 'IPv4' ? LOOPBACK_V4 : LOOPBACK_V6);
}

/**
 * What is wrong with one `if_include` / `if_exclude` item, or nothing. Items are interface names
 * (`eth0`), CIDRs (`10.0.0.0/8`) or single addresses.
 */
export function checkInterfaceItem(item: string): string | undefined {
  if (item === '') return 'empty item in the list';
  if (item.includes('/') && !parseCidr(item)) return `'${item}' is not a valid CIDR (e.g. 10.0.0.0/8 or fd00::/64)`;
  return undefined;
}

function matches(item: string, addr: LocalAddress): boolean {
  if (item.includes('/')) {
    const cidr = parseCidr(item);
    return cidr !== undefined && inSubnet(addr.address, addr.family, cidr);
  }
  if (isIP(item)) return item === addr.address;
  return item === addr.interface;
}

export interface AddressSelection {
  readonly addresses: LocalAddress[];
  /** Items of the include / exclude list that matched no address here (likely typos). */
  readonly unmatched: string[];
}

/**
 * The addresses to listen on: every address of every interface that is up (loopback first),
 * narrowed by `include` or `exclude`, as Open MPI's `btl_tcp_if_include` / `if_exclude`.
 * IPv6 link-local addresses are left out: they need a per-host scope id, so a peer could not
 * use one it reads from our card.
 */
export function selectAddresses(
  include: readonly string[],
  exclude: readonly string[],
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): AddressSelection {
  const all: LocalAddress[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      const family: Family = String(info.family) === '6' || info.family === 'IPv6' ? 'IPv6' : 'IPv4';
      if (family === 'IPv6' && inSubnet(info.address, family, LINK_LOCAL_V6)) continue;
      const prefix = info.cidr ? Number(info.cidr.slice(info.cidr.lastIndexOf('/') + 1)) : family === 'IPv4' ? 32 : 128;
      all.push({
        interface: name,
        address: info.address,
        family,
        prefix,
        cidr: info.cidr ?? `${info.address}/${prefix}`,
        loopback: isLoopback(info.address, family),
      });
    }
  }
  all.sort((a, b) => Number(b.loopback) - Number(a.loopback));
  const items = include.length ? include : exclude;
  const unmatched = items.filter((item) => !all.some((a) => matches(item, a)));
  let addresses = all;
  if (include.length) addresses = all.filter((a) => include.some((item) => matches(item, a)));
  else if (exclude.length) addresses = all.filter((a) => !exclude.some((item) => matches(item, a)));
  return { addresses, unmatched };
}
