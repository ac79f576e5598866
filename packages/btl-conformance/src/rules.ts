import { fileURLToPath } from 'node:url';

/** One rule of the BTL contract the kit checks: its id, a one-line statement, and where it is documented. */
export interface Rule {
  readonly id: string;
  readonly title: string;
  readonly doc: string;
}

/** The kit's README where it is installed (a checkout's packages/, an application's node_modules): a path the reader can open. */
const DOC = fileURLToPath(new URL('../README.md', import.meta.url));
const rule = (id: string, title: string): Rule => Object.freeze({ id, title, doc: `${DOC}#${id}` });

/**
 * Every rule, in the order the kit checks them (the contract job's, the control job's, then the
 * side jobs': a wide one, two at once, and one whose links are cut).
 * README.md has a paragraph for each, anchored by id.
 */
export const RULES: ReadonlyArray<Rule> = Object.freeze([
  rule('manifest', 'the package declares a btl component for the framework\'s BTL API (1.x) that Switchyard finds, imports and opens'),
  rule('module-shape', 'init returns modules whose limits, flags and methods are consistent'),
  rule('modex-card', 'business cards survive the modex as JSON, reachability from them is symmetric, and links come up'),
  rule('send-sizes', 'fragments of every size up to maxSendSize arrive whole, once, intact, on the sender\'s endpoint'),
  rule('eager-limit', 'eagerLimit and maxSendSize are the values their parameters set, and an eagerLimit fragment goes in one piece'),
  rule('ordering', 'a module flagged ORDERED delivers the fragments sent to one endpoint in the order sent'),
  rule('flush', 'flush resolves only after every send issued before it has completed'),
  rule('back-pressure', 'a slow receiver loses nothing: send returns false above the high-water mark and writable follows'),
  rule('completion', 'every send\'s completion runs, exactly once'),
  rule('progress',
    'a module that offers progress() hands up, from progress() called in a loop, what peers send meanwhile, with no event loop turn'),
  rule('sendi',
    'a module that offers sendi() copies what it takes before returning (no completion), keeps ORDERED order with send(), and ' +
      'declines with false, sending nothing, what it cannot take'),
  rule('authentication',
    'a module that accepts connections refuses a caller that does not prove the job\'s secret: nothing it sends arrives'),
  rule('rdma', 'a module flagged PUT or GET registers memory, and put / get move the right bytes'),
  rule('refusals',
    'a tag above 255, a fragment over maxSendSize and a send after delProcs complete with an error, send nothing; delProcs closes links'),
  rule('early-arrival', 'what arrives from a peer before addProcs knows it is held, then handed over once it does'),
  rule('soak',
    'links outlive the kit\'s timers (a trickle for soakMs loses nothing, reports no error); memory does not grow with bytes sent'),
  rule('stopped-peer',
    'a peer stopped for stopMs (SIGSTOP) fails nothing: send returns false, writable follows once it reads, all arrives once'),
  rule('errors-to-bml', 'errors are reported through done(error) and host.error, never thrown'),
  rule('link-loss',
    'a link lost to a peer is reported through host.error with severity endpoint, naming that peer\'s endpoint and no healthy one'),
  rule('reload-card', 'after a peer reloads the component, every rank sends to its new business card, none to the old one'),
  rule('finalize-releases', 'delProcs and finalize release every socket, server and timer the module opened'),
  rule('lifecycle-reload',
    'the component can be unloaded and loaded again in the same process, the new modules work, and leave nothing behind'),
  rule('finalize-stopped-peer', 'finalize resolves while a peer is stopped (SIGSTOP) with sends to it pending'),
  rule('drain', 'moving traffic off the BTL (switch away, unload) drains its links: nothing lost, nothing left in flight'),
  rule('switch-cycle', 'under traffic, switch to the BTL, away, unload and load it: every message arrives once, in order'),
  rule('switch-back-first-message', 'the first messages after switching back to the BTL (or loading it again) travel over it'),
  rule('script-end',
    'a rank whose script returns without finalize() exits, finalized at exit: no handle of the module keeps its event loop alive'),
  rule('wide-job',
    'in a job of 12 ranks or more (wideRanks), every rank\'s fragments arrive once, on the endpoint of the rank that sent them; ' +
      'every peer one delProcs call names is forgotten, and no peer it does not name'),
  rule('two-jobs', 'two jobs of the BTL on one host at once keep their own traffic: nothing crosses, nothing is lost, both finish'),
  rule('link-cut',
    'a live link cut from outside (both modules loaded) is reported once at most, every send completes once, the peer\'s later ' +
      'fragments arrive both ways, and finalize releases everything'),
]);

export function findRule(id: string): Rule | undefined {
  return RULES.find((r) => r.id === id);
}

/** The rule with this id; a clear error naming the known ids otherwise. */
export function requireRule(id: string, where: string): Rule {
  const found = findRule(id);
  if (!found) throw new TypeError(`${where}: unknown conformance rule '${id}'; known rules: ${RULES.map((r) => r.id).join(', ')}`);
  return found;
}
