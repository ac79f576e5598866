/** The BTL API version this package implements; components declare a semver range against it. */
export const BTL_API_VERSION = '1.2.0';

/**
 * Capability flags of a BTL module (`BtlModule.flags`). The values of SEND, PUT, GET and
 * SEND_INPLACE are Open MPI's (`opal/mca/btl/btl.h`), so HPC readers recognise them.
 */
export const BtlFlag = Object.freeze({
  /** Can send active messages (fragments with a tag). Every module used for traffic has it. */
  SEND: 0x1,
  /** Can write into a peer's registered memory (RDMA write). Requires `put` and `registerMemory`. */
  PUT: 0x2,
  /** Can read from a peer's registered memory (RDMA read). Requires `get` and `registerMemory`. */
  GET: 0x4,
  RDMA: 0x6,
  /** Sends straight from the caller's segments without copying (the caller keeps them until completion). */
  SEND_INPLACE: 0x8,
  /**
   * Fragments sent to one endpoint arrive in the order sent. The PML never relies on it (it has
   * its own sequence numbers), but the conformance kit checks the claim.
   */
  ORDERED: 0x1000_0000,
});

/** Open MPI's exclusivity levels: the highest reachable one wins a peer's send list. */
export const Exclusivity = Object.freeze({
  /** Only for a rank talking to itself (btl-self). */
  HIGH: 0x10000,
  /** Fast hardware transports (openib). */
  DEFAULT: 1024,
  /** TCP. */
  TCP: 100,
  LOW: 0,
});

/** Active-message tag ranges (8 bits), as Open MPI: BTL-internal, BML, PML, user. */
export const BtlTag = Object.freeze({
  BTL_BASE: 0x20,
  BML_BASE: 0x30,
  PML_BASE: 0x40,
  USER_BASE: 0x80,
  MAX: 0xff,
});
