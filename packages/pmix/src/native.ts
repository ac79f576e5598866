/** What the compiled addon (native/pmix_addon.c) exports. */
export interface NativePmix {
  readonly abiVersion: number;
  /** PMIx_Init (blocking, once) and the job's facts. Throws `PMIx_Init: UNREACHABLE` with no server. */
  init(): NativeJobInfo;
  put(key: string, value: string | Buffer): void;
  commit(): void;
  fence(collect: boolean, callback: (error: Error | null) => void): void;
  get(rank: number, key: string, callback: (error: Error | null, value?: string | Buffer) => void): void;
  abort(status: number, message: string): void;
  finalize(): void;
  initialized(): boolean;
}

export interface NativeJobInfo {
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  readonly localSize: number;
  /** Comma-separated ranks on this node ('' when the server does not say). */
  readonly localPeers: string;
  /** PMIX_HOSTNAME: the launcher's name for this node ('' when it does not say). */
  readonly nodeName: string;
  readonly nspace: string;
  /** PMIX_JOBID, or the nspace when the launcher gives none. */
  readonly jobId: string;
  readonly version: string;
}

/** Bumped with ABI_VERSION in native/pmix_addon.c. */
export const NATIVE_ABI_VERSION = 1;
