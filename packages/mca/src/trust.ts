import { lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { McaIssue } from './errors.js';
import { sourceRank, type Setting } from './sources.js';

/** The parameter that widens which files are trusted (its raw values come from any source). */
export const TRUST_PARAM = 'mca_base_trust';

export const TRUST_HELP =
  'Whose component packages and project config files are used besides your own and root\'s (as ssh treats its files): ' +
  "user names or uids; 'group' also accepts files writable by their group; 'any' turns the check off. " +
  'Default: only files owned by you or root and writable by nobody else (your own private group excepted).';

/**
 * Who may own, and who may write, a file that switchyard imports or reads as configuration.
 * A file another user can change runs as whoever starts the job, so it is refused unless this
 * widens it.
 */
export interface TrustPolicy {
  /** Owners besides the current user and root. */
  readonly owners: ReadonlySet<number>;
  /** Accept files writable by their group. */
  readonly groupWritable: boolean;
  /** No check at all. */
  readonly any: boolean;
}

export const STRICT_TRUST: TrustPolicy = { owners: new Set(), groupWritable: false, any: false };

/** A file or folder refused by the trust check: `code` is for callers, the message for people. */
export class UntrustedFileIssue extends McaIssue {
  readonly code = 'ERR_SWITCHYARD_UNTRUSTED_FILE';
}

/** Reads `mca_base_trust` values; throws naming the entry that is neither a word, a user nor a uid. */
export function parseTrust(entries: readonly string[]): TrustPolicy {
  const owners = new Set<number>();
  let groupWritable = false;
  let any = false;
  for (const raw of entries.flatMap((e) => e.split(/[:,]/)).map((e) => e.trim()).filter(Boolean)) {
    if (raw === 'any') any = true;
    else if (raw === 'group') groupWritable = true;
    else if (/^\d+$/.test(raw)) owners.add(Number(raw));
    else {
      const uid = userIds().get(raw);
      if (uid === undefined) throw new Error(`'${raw}' is not 'any', 'group', a uid or a user name known to /etc/passwd`);
      owners.add(uid);
    }
  }
  return { owners, groupWritable, any };
}

/**
 * Why `path` must not be trusted, or undefined: owned by someone other than the current user,
 * root or a trusted owner; or writable by others; or by its group, unless that group is the
 * user's private one (the usual umask 002 setup) or the policy accepts it.
 */
export function untrustedReason(path: string, policy: TrustPolicy, container = false): string | undefined {
  if (policy.any) return undefined;
  let st: { uid: number; gid: number; mode: number; isDirectory(): boolean };
  let link: { uid: number; isSymbolicLink(): boolean };
  try {
    link = lstatSync(path);
    st = statSync(path);
  } catch {
    return undefined;
  }
  const me = process.getuid?.() ?? 0;
  const hint = `(${TRUST_PARAM} widens this)`;
  // A symbolic link is followed only when its own owner is trusted too: whoever owns it chooses what it points to.
  if (link.isSymbolicLink() && !trustedOwner(link.uid, policy)) {
    return `${path} is a symbolic link owned by ${userName(link.uid)}, not by you (${userName(me)}) or root ${hint}`;
  }
  // What failed is the file the link leads to: name it, and the link it was reached by.
  const what = link.isSymbolicLink() ? `${realpathOr(path)} (where the link ${path} points)` : path;
  if (!trustedOwner(st.uid, policy)) {
    return `${what} is owned by ${userName(st.uid)}, not by you (${userName(me)}) or root ${hint}`;
  }
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  // A sticky folder (/tmp) lets others add entries but not rename or remove another's: what the
  // check looks at next in it cannot be swapped. Only for a folder holding that next path.
  if (container && st.isDirectory() && st.mode & 0o1000) return undefined;
  if (st.mode & 0o002) return `${what} is writable by every user (mode ${mode}) ${hint}`;
  if (st.mode & 0o020 && !policy.groupWritable && !isPrivateGroup(st.gid)) {
    return `${what} is writable by its group ${groupName(st.gid)} (mode ${mode}) ${hint}`;
  }
  return undefined;
}

/** Whether a file of `uid` may be trusted: the current user's, root's, or an owner `policy` names. */
export function trustedOwner(uid: number, policy: TrustPolicy = STRICT_TRUST): boolean {
  return policy.any || uid === (process.getuid?.() ?? 0) || uid === 0 || policy.owners.has(uid);
}

/**
 * The first reason among `containers` (the folders that hold the first of `paths`, outermost
 * first: a sticky one passes) and then `paths`, in order.
 */
export function firstUntrusted(paths: readonly string[], policy: TrustPolicy, containers: readonly string[] = []): string | undefined {
  for (const c of containers) {
    const reason = untrustedReason(c, policy, true);
    if (reason) return reason;
  }
  for (const p of paths) {
    const reason = untrustedReason(p, policy);
    if (reason) return reason;
  }
  return undefined;
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The user's own private group: same name as the user, no other members. */
function isPrivateGroup(gid: number): boolean {
  if (gid !== process.getgid?.()) return false;
  const me = safeUser();
  const entry = groups().find((g) => g.gid === gid);
  return !!entry && entry.name === me && entry.members.every((m) => m === me);
}

function safeUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

function userIds(): Map<string, number> {
  return new Map(colonFile('/etc/passwd').map((f) => [f[0]!, Number(f[2])]));
}

function userName(uid: number): string {
  const name = [...userIds()].find(([, id]) => id === uid)?.[0];
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

function groups(): Array<{ name: string; gid: number; members: string[] }> {
  return colonFile('/etc/group').map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

function groupName(gid: number): string {
  const name = groups().find((g) => g.gid === gid)?.name;
  return name ? `${name} (gid ${gid})` : `gid ${gid}`;
}

function colonFile(path: string): string[][] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  } catch {
    return [];
  }
}

/**
 * The trust that applies to the project config itself: only what sources read before it (the
 * system and user files, the environment, the command line) may widen it, never the file it is
 * about. An invalid value trusts nobody more; the parameter's own check reports it later.
 */
export function trustBeforeProjectConfig(settings: readonly Setting[]): TrustPolicy {
  const chosen = settings.filter((s) => s.name === TRUST_PARAM).sort((a, b) => sourceRank(b.source) - sourceRank(a.source))[0];
  if (!chosen) return STRICT_TRUST;
  try {
    return parseTrust(Array.isArray(chosen.raw) ? chosen.raw.map(String) : [String(chosen.raw)]);
  } catch {
    return STRICT_TRUST;
  }
}
