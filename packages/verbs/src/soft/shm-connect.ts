import type { ShmHub } from './shm-hub.js';
import { LinkEnd, linkBytes, REQUEST_FIFO, RESPONSE_FIFO } from './shm-link.js';
import { MR_TABLE_BYTES, MrReader } from './mr-window.js';
import type { Accept, ShmOffer } from './wire.js';

/** A link the requester offered in its HELLO, until the responder's ACCEPT (or the socket's end). */
export interface PendingLink {
  readonly hub: ShmHub;
  readonly offer: ShmOffer;
  /** The responder mapped the segment: our end of the link, or undefined if its doorbell cannot be had. */
  accept(answer: Accept): LinkEnd | undefined;
  /** No link (refused, or the connection ended first): lets the segment go. */
  refuse(): undefined;
}

let serial = 0;

/**
 * Creates the segment of a new link (unlinked at once, as btl-sm's: a killed process leaves
 * nothing in /dev/shm) and the offer naming it by descriptor, or undefined when it cannot.
 */
export function connectLink(hub: ShmHub, qpn: number): PendingLink | undefined {
  const size = linkBytes(REQUEST_FIFO, RESPONSE_FIFO);
  let created: { buffer: SharedArrayBuffer; fd: number };
  try {
    created = hub.addon.createSegment(`/switchyard-verbs-${process.pid}-${qpn}-${serial++}`, size);
  } catch {
    return undefined; // no room in /dev/shm, too many descriptors: this connection stays on its socket
  }
  const { buffer, fd } = created;
  LinkEnd.stamp(buffer);
  let open = true;
  const release = (): void => {
    if (open) hub.addon.closeFd(fd);
    open = false;
  };
  return {
    hub,
    offer: {
      pid: process.pid,
      segmentFd: fd,
      segmentSize: size,
      doorbellFd: hub.doorbellFd,
      requestFifo: REQUEST_FIFO,
      responseFifo: RESPONSE_FIFO,
    },
    accept({ pid, doorbellFd, mrTableFd, mrTableSize }) {
      // The responder has its own mapping now: our descriptor is no longer needed.
      release();
      let peerDoorbell: number;
      try {
        peerDoorbell = hub.addon.peerFd(pid, doorbellFd);
      } catch {
        hub.addon.releaseSegment(buffer);
        return undefined;
      }
      const end = new LinkEnd('requester', buffer, REQUEST_FIFO, RESPONSE_FIFO, hub.addon, peerDoorbell, pid);
      if (mrTableSize === MR_TABLE_BYTES) {
        try {
          end.peerRegions = new MrReader(hub.addon.attachSegment(pid, mrTableFd, mrTableSize));
        } catch {
          // Without the table every RDMA request goes through the ring to the responder.
        }
      }
      return end;
    },
    refuse() {
      release();
      hub.addon.releaseSegment(buffer);
      return undefined;
    },
  };
}

/** The responder's side: maps the offered segment and copies the requester's doorbell, or undefined. */
export function attachLink(hub: ShmHub, offer: ShmOffer): LinkEnd | undefined {
  const { pid, segmentFd, segmentSize, requestFifo, responseFifo } = offer;
  const powerOfTwo = (n: number): boolean => n >= 1024 && (n & (n - 1)) === 0;
  if (!powerOfTwo(requestFifo) || !powerOfTwo(responseFifo) || segmentSize !== linkBytes(requestFifo, responseFifo)) return undefined;
  let segment: SharedArrayBuffer;
  let peerDoorbell: number;
  try {
    segment = hub.addon.attachSegment(pid, segmentFd, segmentSize);
  } catch {
    return undefined;
  }
  try {
    if (!LinkEnd.valid(segment)) throw new Error('not a soft verbs link');
    peerDoorbell = hub.addon.peerFd(pid, offer.doorbellFd);
  } catch {
    hub.addon.releaseSegment(segment);
    return undefined;
  }
  return new LinkEnd('responder', segment, requestFifo, responseFifo, hub.addon, peerDoorbell, pid);
}
