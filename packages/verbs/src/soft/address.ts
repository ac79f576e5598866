import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { formatGid, parseGid } from '../constants.js';

/**
 * A soft device's address is a GID, like a RoCE port's: link-local prefix fe80::/64 and an
 * interface id made of the owning pid (32 bits) and 32 random bits. The socket the device
 * listens on is named after the interface id, so a peer finds it from the GID alone (what the
 * business card carries), and a reset device, which gets new random bits, is a new address.
 */
export function newSoftGid(pid: number = process.pid): string {
  const bytes = new Uint8Array(16);
  bytes[0] = 0xfe;
  bytes[1] = 0x80;
  new DataView(bytes.buffer).setUint32(8, pid >>> 0);
  bytes.set(freshRandom(4), 12);
  return formatGid(bytes);
}

const SOCKET_NAME = /^([0-9a-f]{8})([0-9a-f]{8})\.sock$/;

/** The socket a soft GID listens on; throws for a GID that is not a soft device's. */
export function socketPathForGid(dir: string, gid: string): string {
  const bytes = parseGid(gid);
  if (bytes[0] !== 0xfe || bytes[1] !== 0x80) throw new TypeError(`${gid} is not a soft verbs GID (fe80::/64)`);
  return join(dir, `${Buffer.from(bytes.subarray(8)).toString('hex')}.sock`);
}

/** The owner pid encoded in a socket file name, or undefined if the name is not ours. */
export function pidOfSocketName(name: string): number | undefined {
  const m = SOCKET_NAME.exec(name);
  return m ? parseInt(m[1]!, 16) : undefined;
}

const MGMT_SOCKET_NAME = /^([0-9a-f]{8})([0-9a-f]{8})\.mgmt\.sock$/;

/**
 * The name of a process's management socket (see mgmt-server.ts): owner pid and random bits,
 * like a device socket, so stale ones are swept the same way and `--pid` finds it by name.
 */
export function newMgmtSocketName(pid: number = process.pid): string {
  return `${(pid >>> 0).toString(16).padStart(8, '0')}${freshRandom(4).toString('hex')}.mgmt.sock`;
}

/** The owner pid of a management socket's file name, or undefined. */
export function pidOfMgmtSocketName(name: string): number | undefined {
  const m = MGMT_SOCKET_NAME.exec(name);
  return m ? parseInt(m[1]!, 16) : undefined;
}

/** The owner pid of any socket the soft provider creates (device or management). */
export function pidOfAnySocketName(name: string): number | undefined {
  return pidOfSocketName(name) ?? pidOfMgmtSocketName(name);
}

/** A node GUID for the soft device: pid and random bits, 16 hex digits. */
export function newSoftGuid(pid: number = process.pid): string {
  return (pid >>> 0).toString(16).padStart(8, '0') + freshRandom(4).toString('hex');
}

/**
 * Random bytes from the kernel, not from the process's generator: a process restored by CRIU
 * has its generator's state back, so it would draw the very bytes its original drew after the
 * save (the same pid too), and both would claim one address. Falls back to the generator where
 * /dev/urandom cannot be read.
 */
function freshRandom(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      if (readSync(fd, bytes, 0, length, null) === length) return bytes;
    } finally {
      closeSync(fd);
    }
  } catch {
    // No /dev/urandom (a minimal container): the generator is all there is.
  }
  return randomBytes(length);
}
