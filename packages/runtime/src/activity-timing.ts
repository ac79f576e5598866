/**
 * How a rank's activity monitor tells "busy in application code" from "free": shared by the
 * main thread (which beats) and the monitor's worker thread (which watches the beat).
 */

/** How often the main thread stamps the shared beat while its event loop turns. */
export const BEAT_MS = 40;
/** A beat older than this means the main thread is running code that does not yield. */
export const BUSY_AFTER_MS = 150;
/** How often the worker looks at the beat. */
export const CHECK_MS = 50;
/** While busy, how often the worker tells the launcher the rank is still alive. */
export const HEARTBEAT_MS = 1000;
/** How often the main thread refreshes the snapshot answered for it while it is busy. */
export const SNAPSHOT_MS = 500;
/** Without a heartbeat for this long, a busy rank is no longer known to be alive. */
export const ALIVE_WITHIN_MS = 3 * HEARTBEAT_MS;
