import { hostname } from 'node:os';
import { nodeKey, type FtState, type Scope, type Transports } from '@switchyard/core-bml';
import { isSelected, parseSelection, type Mca } from '@switchyard/mca';
import type { WireUp } from '@switchyard/runtime';
import {
  describeVerb,
  type AgentRequest,
  type CommitReply,
  type CtlErrorCode,
  type PrepareReply,
  type RankStatus,
  type RollbackReply,
  type Verb,
  verbFenceName,
} from './protocol.js';
import type { PmlState } from '@switchyard/pml';
import { linkFailures } from './link-failures.js';
import { RankHealthMonitor } from './rank-health.js';
import { failureCode, UndoJournal } from './undo-journal.js';

type Policy = (peer: number, component: string) => boolean;

/** `btl_<component>_exclusivity`: the one BTL limit a running job can take a new value of. */
const EXCLUSIVITY_PARAM = /^btl_([a-z0-9]+)_exclusivity$/;

/** What `checkpoint prepare` saved for `continue` / `restart`. */
interface Checkpoint {
  readonly policy: Policy;
  readonly unloaded: readonly string[];
}

/** A move in progress: the rank being moved and the transports its links were on. */
interface Away {
  readonly rank: number;
  readonly components: readonly string[];
}

/** What commit runs: the verb's steps, each recorded with its undo in the journal. */
type Run = (journal: UndoJournal) => Promise<string[]>;

/** A plan: what commit will run, or why it cannot; `unchanged` when this rank takes part but changes nothing. */
interface Plan {
  readonly reason?: string;
  readonly code?: CtlErrorCode;
  readonly run?: Run;
  readonly unchanged?: { readonly code: CtlErrorCode; readonly reason?: string };
}

/**
 * How long a finalizing rank waits for the commit (or abort) of a verb it prepared: the coordinator
 * sends it once every rank answered prepare, which without --timeout waits for ranks busy in
 * application code.
 */
const FINALIZE_VERB_WAIT_MS = 120_000;

/** A prepared verb: the plan a commit carries out. */
interface Prepared {
  readonly txn: number;
  readonly verb: Verb;
  readonly run: Run;
  readonly drainTimeoutMs?: number;
}

/** The verb this rank committed last (done or failed), kept until the next one for `rollback`. */
interface Committed {
  readonly txn: number;
  readonly verb: Verb;
  readonly journal: UndoJournal;
  /** The components loaded here before the commit: a rollback that leaves one out says so. */
  readonly loaded: readonly string[];
}

/**
 * A rank's side of the control verbs: answers the coordinator's prepare (check only, change
 * nothing), commit (carry out, collectively with every other rank, recording an undo for each
 * step), abort and rollback (undo what the commit did), and reports status. Installed by
 * `init()` on the runtime's out-of-band channel, never on a BTL.
 */
export class ControlAgent {
  #prepared?: Prepared;
  #committed?: Committed;
  #committing: Promise<void> = Promise.resolve();
  #checkpoint?: Checkpoint;
  /** Between `migrate away` and `migrate back`: the rank being moved and the transports its links were on. */
  #away?: Away;
  #keepAlive?: NodeJS.Timeout;
  /** The last verb whose undo failed here: what it left applied (shown by status until a verb succeeds). */
  #partial?: NonNullable<RankStatus['partialVerb']>;
  /** Transactions aborted, possibly before their prepare finished planning here. */
  readonly #aborted = new Set<number>();
  /** This rank's finalize is past its barrier: it takes part in no new verb. */
  #finalizing = false;
  /** Woken when the prepared verb is committed or given up. */
  #preparedSettled: Array<() => void> = [];

  readonly #health: RankHealthMonitor;

  constructor(
    readonly transports: Transports,
    readonly mca: Mca,
    readonly wireup: WireUp,
    /** The PML's queues, when the rank has a PML (the application's ranks do). */
    readonly pmlState?: () => PmlState,
  ) {
    this.#health = new RankHealthMonitor(transports.bml);
  }

  install(): void {
    this.wireup.onRequest((body) => this.handle(body as AgentRequest));
    this.#publishSnapshot();
  }

  /**
   * What `ctl status` shows of this rank while application code keeps its thread busy; published
   * again at once after every verb, so a status taken then never shows the links from before it.
   */
  #publishSnapshot(): void {
    this.wireup.publishSnapshot?.(() => this.status());
  }

  async handle(request: AgentRequest): Promise<unknown> {
    switch (request.ctl) {
      case 'status':
        return this.status();
      case 'prepare':
        return this.prepare(request.txn, request.verb, request.drainTimeoutMs);
      case 'commit':
        return this.commit(request.txn).finally(() => this.#publishSnapshot());
      case 'abort':
        this.#aborted.add(request.txn);
        if (this.#prepared?.txn === request.txn) this.#setPrepared(undefined);
        return { ok: true };
      case 'rollback':
        return this.rollback(request.txn, request.applied, request.drainTimeoutMs, request.unloadedBy).finally(() =>
          this.#publishSnapshot(),
        );
      default:
        throw new Error(`unknown control request ${JSON.stringify(request)}`);
    }
  }

  async prepare(txn: number, verb: Verb, drainTimeoutMs?: number): Promise<PrepareReply> {
    // The coordinator runs one verb at a time: a newer prepare means an older one was given up.
    if (this.#prepared && this.#prepared.txn < txn) this.#setPrepared(undefined);
    if (this.#finalizing) return { ok: false, code: 'ERR_CTL_REFUSED', reason: `rank ${this.rank} is finalizing (the job is ending)` };
    if (this.#prepared)
      return { ok: false, code: 'ERR_CTL_BUSY', reason: `rank ${this.rank} is in the middle of '${describeVerb(this.#prepared.verb)}'` };
    let plan: Plan;
    try {
      plan = await this.#plan(txn, verb);
    } catch (err) {
      plan = { reason: (err as Error).message };
    }
    if (plan.reason || !plan.run) return { ok: false, code: plan.code ?? 'ERR_CTL_REFUSED', reason: plan.reason ?? 'nothing to do' };
    // Aborted while it was being planned: keep nothing.
    if (this.#aborted.has(txn)) return { ok: false, code: 'ERR_CTL_REFUSED', reason: `verb ${txn} was aborted` };
    // Finalize began while it was being planned: this rank takes part in no new verb.
    if (this.#finalizing) return { ok: false, code: 'ERR_CTL_REFUSED', reason: `rank ${this.rank} is finalizing (the job is ending)` };
    this.#prepared = { txn, verb, run: plan.run, ...(drainTimeoutMs !== undefined ? { drainTimeoutMs } : {}) };
    return { ok: true, summary: describeVerb(verb), ...(plan.unchanged ? { unchanged: plan.unchanged } : {}) };
  }

  async commit(txn: number): Promise<CommitReply> {
    const started = performance.now();
    const prepared = this.#prepared;
    if (!prepared || prepared.txn !== txn) {
      return { ok: false, changes: [], code: 'ERR_CTL_NOT_PREPARED', error: `rank ${this.rank} has no prepared verb ${txn}`, ms: 0 };
    }
    this.#setPrepared(undefined);
    const journal = new UndoJournal(prepared.drainTimeoutMs);
    this.#committed = { txn, verb: prepared.verb, journal, loaded: [...this.transports.modules().keys()] };
    const run = prepared.run(journal);
    // A rollback that arrives while the commit still runs (the coordinator gave up waiting) waits for it.
    this.#committing = run.then(
      () => {},
      () => {},
    );
    try {
      const changes = await run;
      this.#partial = undefined;
      const switchUndone = journal.switchUndone ? { switchUndone: journal.switchUndone } : {};
      return { ok: true, changes, ...unloadedHere(journal), ...switchUndone, ms: performance.now() - started };
    } catch (err) {
      // What the failed verb left applied stays journaled: the coordinator's rollback undoes it.
      return {
        ok: false,
        changes: journal.applied(),
        ...unloadedHere(journal),
        code: failureCode(err),
        error: `rank ${this.rank}: ${(err as Error).message}`,
        ms: performance.now() - started,
      };
    }
  }

  /**
   * Undoes, last step first, what this rank did for `txn`. Every live rank gets it, those that
   * changed nothing too: undoing an unload is a collective load they take part in.
   */
  async rollback(
    txn: number,
    applied: readonly number[],
    drainTimeoutMs?: number,
    unloadedBy?: Readonly<Record<string, readonly number[]>>,
  ): Promise<RollbackReply> {
    await this.#committing;
    const committed = this.#committed;
    if (!committed || committed.txn !== txn) return { ok: true, undone: [], applied: [] };
    this.#committed = undefined;
    const result = await committed.journal.undoAll({ applied: new Set(applied), ...(unloadedBy ? { unloadedBy } : {}) }, drainTimeoutMs);
    // Never "rolled back" while a transport loaded before the verb is gone (a fault took it meanwhile, or an undo missed it).
    const gone = committed.loaded.filter((c) => this.transports.loadState(c) === 'absent');
    if (result.error === undefined && gone.length) {
      const [was, is, it] = gone.length > 1 ? ['were', 'are', 'them'] : ['was', 'is', 'it'];
      result.error = `btl ${gone.join(', ')} ${was} loaded before the verb and ${is} not now ('ctl reset' loads ${it} again)`;
      result.applied = gone.map((c) => `unloaded ${c}`);
      result.code = 'ERR_CTL_ROLLBACK_FAILED';
    }
    if (result.error === undefined) return { ok: true, undone: result.undone, applied: [] };
    const error = `rank ${this.rank}: undoing '${describeVerb(committed.verb)}' failed: ${result.error}`;
    this.#partial = { verb: describeVerb(committed.verb), applied: result.applied, error, code: 'ERR_CTL_ROLLBACK_FAILED' };
    return { ok: false, undone: result.undone, applied: result.applied, code: 'ERR_CTL_ROLLBACK_FAILED', error };
  }

  get rank(): number {
    return this.transports.identity.rank;
  }

  /**
   * Called by finalize once its barrier is done, before the transports close: from now on this
   * rank refuses verbs, and a verb it already prepared is waited for (bounded) until it is
   * committed or aborted, then its commit until it finishes. A verb is carried out by every rank
   * or by none, never by the ranks that happened to finalize later.
   */
  async finalizing(): Promise<void> {
    this.#finalizing = true;
    const prepared = this.#prepared;
    if (prepared) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#preparedSettled.push(resolve);
        timer = setTimeout(resolve, FINALIZE_VERB_WAIT_MS);
      });
      clearTimeout(timer);
      // No commit came: given up here, so a late commit fails and the coordinator rolls the others back.
      if (this.#prepared === prepared) {
        this.#aborted.add(prepared.txn);
        this.#setPrepared(undefined);
      }
    }
    await this.#committing;
  }

  #setPrepared(prepared: Prepared | undefined): void {
    this.#prepared = prepared;
    if (prepared) return;
    const waiting = this.#preparedSettled;
    this.#preparedSettled = [];
    for (const wake of waiting) wake();
  }

  /** Checks `verb` on this rank and returns what commit will run, or why it cannot. */
  async #plan(txn: number, verb: Verb): Promise<Plan> {
    const t = this.transports;
    const scope: Scope = 'ranks' in verb && verb.ranks?.length ? new Set(verb.ranks) : undefined;
    const current = t.bml.policy;
    const loaded = () => [...t.modules().keys()];
    switch (verb.verb) {
      case 'switch': {
        const missing = verb.btls.filter((b) => !t.modules().has(b));
        if (missing.length)
          return {
            reason: `btl ${missing.map((m) => `'${m}'`).join(', ')} is not loaded on rank ${this.rank} (loaded: ${loaded().join(', ')})`,
          };
        const me = this.rank;
        const policy: Policy = (peer, c) =>
          t.inScope(peer, scope) ? verb.btls.includes(c) || (c === 'self' && peer === me) : current(peer, c);
        const plan = await this.#policyPlan(policy);
        const run = plan.run;
        const prepared = this.#checkpoint;
        if (!run || (!prepared && !this.#policyDiffers(current, policy))) return plan;
        return {
          run: async (j) => {
            const changes = await run(j);
            if (prepared) {
              // The operator's last word: checkpoint continue restores this switch, not the policy before prepare.
              const before = prepared.policy;
              const kept: Policy = (peer, c) => (t.inScope(peer, scope) ? policy(peer, c) : before(peer, c));
              this.#checkpointStep(j, { ...prepared, policy: kept });
              changes.push(`checkpoint continue will keep traffic on ${verb.btls.join(',')}`);
            }
            // A new policy that moved no link (what it takes off carries nothing now: a link down,
            // traffic failed over already) still changed what carries traffic from now on.
            return changes.length ? changes : [`traffic policy now ${verb.btls.join(',')}; no link had traffic to move`];
          },
        };
      }
      case 'reset':
        return this.#resetPlan(txn, scope);
      case 'unload': {
        const reason = t.checkUnload(verb.btl, scope);
        const run: Run = (j) => this.#unloadStep(j, verb.btl, scope, verbFenceName(txn, 'rollback', 'load-back'));
        // Unloaded here already (an earlier --ranks unload) and not named: this rank takes part with
        // nothing to do, as ranks where a loaded transport is healthy take part in a load. Where
        // every rank says so, the verb is refused with their reasons.
        if (reason && !scope && !t.modules().has(verb.btl)) return { unchanged: { code: 'ERR_CTL_REFUSED', reason }, run };
        return reason ? { reason } : { run };
      }
      case 'load': {
        const reason = (await t.checkLoad(verb.btl, scope)) ?? this.#checkpointKeeps(verb.btl);
        const run: Run = (j) => this.#loadStep(j, verb.btl, scope, verbFenceName(txn, 'commit', 'load'));
        // Loaded and healthy here, or outside the scope: this rank only connects to the ranks
        // that load it (anew), if any do.
        if (reason && t.loadState(verb.btl) === 'loaded') return { unchanged: { code: 'ERR_CTL_ALREADY_LOADED', reason }, run };
        if (!reason && scope && !scope.has(this.rank)) return { unchanged: { code: 'ERR_CTL_ALREADY_LOADED' }, run };
        return reason ? { reason } : { run };
      }
      case 'checkpoint':
        return this.#checkpointPlan(txn, verb.phase);
      case 'migrate':
        return this.#migratePlan(txn, verb.phase, verb.ranks[0]!);
      case 'apply':
        return this.#applyPlan(txn, verb.mca, scope);
    }
  }

  /** Do two policies differ for a loaded component and some peer? */
  #policyDiffers(a: Policy, b: Policy): boolean {
    const components = [...this.transports.modules().keys()];
    for (let peer = 0; peer < this.transports.identity.size; peer++) {
      for (const c of components) if (a(peer, c) !== b(peer, c)) return true;
    }
    return false;
  }

  async #policyPlan(policy: Policy): Promise<Plan> {
    const reason = await this.transports.checkPolicySoon(policy);
    return reason ? { reason } : { run: (j) => this.#policyStep(j, policy) };
  }

  /** Sets a traffic policy and drains; its undo sets the previous one again (also after a drain that timed out). */
  #policyStep(j: UndoJournal, policy: Policy): Promise<string[]> {
    const t = this.transports;
    const previous = t.bml.policy;
    return j.stepUndoneEvenIfFailed(
      () => t.applyPolicy(policy, j.drainBudget()),
      () => t.applyPolicy(previous, j.drainBudget()),
      ['traffic policy changed (drain not finished)'],
    );
  }

  /** Loads `name` (collectively); its undo unloads it again where it was loaded. */
  #loadStep(j: UndoJournal, name: string, scope: Scope, exchangeName: string): Promise<string[]> {
    const t = this.transports;
    // A rank that keeps a healthy module only connects it to the ranks that load it anew.
    const kept = t.loadState(name) === 'loaded';
    return j.step(
      () => t.load(name, scope, exchangeName, j.drainBudget()),
      () => t.unload(name, kept ? this.#peersIn(scope) : scope, j.drainBudget()),
    );
  }

  /** This rank's peers a verb limited to `scope` touches, as a scope of their own. */
  #peersIn(scope: Scope): Scope {
    const { size } = this.transports.identity;
    return new Set([...Array(size).keys()].filter((r) => r !== this.rank && this.transports.inScope(r, scope)));
  }

  /**
   * Unloads `name` (collectively). Its undo loads it back on the ranks that had unloaded it (the
   * rollback's `applied` ranks); every rank takes part in that load, so the step is undone here
   * even if it failed here. When no rank completed it, the retired links are put back in service.
   */
  #unloadStep(j: UndoJournal, name: string, scope: Scope, exchangeName: string): Promise<string[]> {
    const t = this.transports;
    return j.stepUndoneEvenIfFailed(
      async () => {
        const had = t.loadState(name) !== 'absent';
        const changes = await t.unload(name, scope, j.drainBudget());
        if (had && t.loadState(name) === 'absent') j.unloaded.push(name);
        return changes;
      },
      async ({ applied, unloadedBy }) => {
        // The ranks that unloaded it, even those whose commit failed at a later step (the
        // coordinator's list); without it, those whose commit succeeded.
        const done = unloadedBy?.[name] ?? [...applied];
        const back = new Set(done.filter((r) => !scope || scope.has(r)));
        // No rank completed it: every side of every link is still there, retired.
        if (!back.size) return t.restoreRetired(name, scope);
        return t.load(name, back, exchangeName, j.drainBudget());
      },
      [],
    );
  }

  /**
   * What a reset undoes of earlier switches: the peers (in scope) that some loaded transport was
   * kept from, and those whose traffic had fallen back after the switched-to transports failed.
   */
  #switchesUndone(current: Policy, scope: Scope): UndoJournal['switchUndone'] {
    const t = this.transports;
    const components = [...t.modules().keys()];
    const peers = t.bml.endpoints.filter((e) => e.rank !== this.rank && t.inScope(e.rank, scope));
    const switched = peers.filter((e) => components.some((c) => !current(e.rank, c))).map((e) => e.rank);
    if (!switched.length) return undefined;
    return { peers: switched, fellBack: peers.filter((e) => e.fallback).map((e) => e.rank) };
  }

  /**
   * `reset`: the configured policy and, for the whole job, every configured transport loaded
   * where it can be (missing or failed ones loaded anew, failed links probed again): how a job
   * left partly changed by a failed rollback comes back to a consistent state.
   */
  async #resetPlan(txn: number, scope: Scope): Promise<Plan> {
    const t = this.transports;
    const current = t.bml.policy;
    const policy: Policy = (peer, c) => (t.inScope(peer, scope) ? true : current(peer, c));
    const undone = this.#switchesUndone(current, scope);
    // Between checkpoint prepare and continue, the transports unloaded stay unloaded.
    const prepared = this.#checkpoint;
    if (scope || prepared) {
      const plan = await this.#policyPlan(policy);
      const run = plan.run;
      if (!run) return plan;
      return {
        ...plan,
        run: async (j) => {
          j.switchUndone = undone;
          const changes = await run(j);
          if (prepared) {
            // A switch made since prepare is reset too: continue restores the policy as configured.
            const configured: Policy = (peer, c) => (t.inScope(peer, scope) ? true : prepared.policy(peer, c));
            this.#checkpointStep(j, { ...prepared, policy: configured });
          }
          return changes;
        },
      };
    }
    await t.framework.register();
    const selection = parseSelection(this.mca.params.info('btl').text);
    const configured = t.framework.records().filter((r) => r.loadable && isSelected(selection, r.name));
    const mine: string[] = [];
    for (const r of configured) {
      const state = t.loadState(r.name);
      // As at start-up, a transport this rank cannot use now (no device) is left out without a
      // word; one that failed here is tried again, and says why if it cannot come back.
      if (state === 'loaded' || (state === 'absent' && !(await t.framework.query(r.name)).available)) continue;
      mine.push(r.name);
    }
    // Until they are loaded, the missing transports cannot count towards reachability.
    const reason = mine.length ? undefined : t.checkPolicy(policy);
    if (reason) return { reason };
    return {
      run: async (j) => {
        const changes: string[] = [];
        // Loading is collective: every rank loads, in the same order, what any rank misses.
        for (const c of await t.agreeOnLoads(mine, verbFenceName(txn, 'commit', 'reset'))) {
          try {
            changes.push(...(await this.#loadStep(j, c, undefined, verbFenceName(txn, 'commit', `reset-${c}`))));
          } catch (err) {
            // Every rank learns the same failure from the load's exchange: the others still get loaded.
            changes.push(`${c} not loaded: ${(err as Error).message}`);
          }
        }
        const failed = t.bml.failedLinks().filter((b) => b.failure!.severity !== 'fatal');
        t.bml.probeFailedLinks();
        if (failed.length) changes.push(`probing failed link(s) again: ${failed.map((b) => b.traceLabel()).join(', ')}`);
        j.switchUndone = undone;
        changes.push(...(await this.#policyStep(j, policy)));
        return changes;
      },
    };
  }

  /**
   * `apply --mca K V…`: validates every value as a run-time change (changing nothing yet); a new
   * `btl` selection becomes the loads and unloads that reconcile the loaded set with it.
   */
  async #applyPlan(txn: number, pairs: ReadonlyArray<readonly [string, string]>, scope: Scope): Promise<Plan> {
    if (scope) return { reason: `'apply' changes the whole job's configuration; it takes no --ranks` };
    if (!pairs.length) return { reason: `'apply' needs at least one --mca KEY VALUE` };
    const params = this.mca.params;
    for (const [key, value] of pairs) {
      try {
        params.validateRuntime(key, value);
      } catch (err) {
        return { reason: (err as Error).message };
      }
    }
    const t = this.transports;
    const selection = pairs.filter(([k]) => k === 'btl').at(-1)?.[1];
    let toLoad: string[] = [];
    let toUnload: string[] = [];
    if (selection !== undefined) {
      const wanted = parseSelection(selection);
      await t.framework.register();
      const loaded = new Set(t.modules().keys());
      // `^X` means what it means at start-up: every component available here but X.
      const candidates = wanted.mode === 'include' ? wanted.names : await this.#availableBut(wanted, loaded);
      for (const name of candidates) {
        const record = t.framework.record(name) && (await t.framework.importComponent(name));
        if (!record?.loadable)
          return { reason: `btl=${selection}: component '${name}' ${record ? `cannot be used: ${record.reason}` : 'does not exist'}` };
      }
      toLoad = candidates.filter((c) => !loaded.has(c)).sort();
      toUnload = [...loaded].filter((c) => !isSelected(wanted, c)).sort();
      for (const c of toLoad) {
        const kept = this.#checkpointKeeps(c);
        if (kept) return { reason: `btl=${selection}: ${kept}` };
      }
      const current = t.bml.policy;
      const reason = t.checkPolicy((peer, c) => current(peer, c) && !toUnload.includes(c));
      if (reason && !toLoad.length) return { reason: `btl=${selection}: ${reason}` };
    }
    return {
      run: async (j) => {
        const changes: string[] = [];
        for (const [key, value] of pairs) changes.push(...(await this.#paramStep(j, key, value)));
        // Loading is collective: every rank loads, in the same order, what any rank misses.
        for (const c of await t.agreeOnLoads(toLoad, verbFenceName(txn, 'commit', 'apply'))) {
          changes.push(...(await this.#loadStep(j, c, undefined, verbFenceName(txn, 'commit', `apply-${c}`))));
        }
        for (const c of toUnload) changes.push(...(await this.#unloadStep(j, c, undefined, verbFenceName(txn, 'rollback', `apply-${c}`))));
        // A new exclusivity re-ranks the loaded modules; traffic moved off a link is drained.
        for (const [key] of pairs) {
          const component = EXCLUSIVITY_PARAM.exec(key)?.[1];
          if (component) changes.push(...(await this.#exclusivityStep(j, component, key)));
        }
        return changes;
      },
    };
  }

  /** The components an exclusive selection leaves: loaded, or loadable and available on this rank now. */
  async #availableBut(wanted: ReturnType<typeof parseSelection>, loaded: ReadonlySet<string>): Promise<string[]> {
    const t = this.transports;
    const names: string[] = [];
    for (const record of t.framework.records()) {
      if (!isSelected(wanted, record.name)) continue;
      if (loaded.has(record.name)) names.push(record.name);
      else if (record.loadable && (await t.framework.query(record.name)).available) names.push(record.name);
    }
    return names;
  }

  /** Sets a run-time parameter; its undo puts back the previous value (or its source). */
  #paramStep(j: UndoJournal, key: string, value: string): Promise<string[]> {
    const params = this.mca.params;
    const before = params.info(key);
    return j.step(
      async () => {
        params.setRuntime(key, value);
        return [`${key} = ${value} (runtime)`];
      },
      async () => {
        if (before.source === 'runtime') params.setRuntime(key, before.text);
        else params.clearRuntime(key);
        const now = params.info(key);
        return [`${key} = ${now.text} (${now.source})`];
      },
    );
  }

  /** Re-ranks a component by the parameter's exclusivity; its undo re-ranks by the value then in force. */
  #exclusivityStep(j: UndoJournal, component: string, key: string): Promise<string[]> {
    const t = this.transports;
    const params = this.mca.params;
    // Both run the same: the undo runs after the parameter's own undo (last step first), so it
    // re-ranks by the old value.
    const rerank = () => t.applyExclusivity(component, params.get<number>(key), j.drainBudget());
    return j.stepUndoneEvenIfFailed(rerank, rerank, [`${component} re-ranked (drain not finished)`]);
  }

  /**
   * Why `name` may not be loaded now: between checkpoint prepare and continue only checkpointable
   * transports are loaded (the snapshot taken meanwhile could not hold the others' state).
   */
  #checkpointKeeps(name: string): string | undefined {
    if (!this.#checkpoint || this.transports.checkpointable(name)) return undefined;
    return `rank ${this.rank} is prepared for a checkpoint and btl '${name}' is not checkpointable; run 'checkpoint continue' first`;
  }

  async #checkpointPlan(txn: number, phase: 'prepare' | 'continue' | 'restart'): Promise<Plan> {
    const t = this.transports;
    if (phase === 'prepare') {
      if (this.#checkpoint) return { reason: `rank ${this.rank} is already prepared for a checkpoint; run 'checkpoint continue' first` };
      const policy: Policy = (_, c) => t.checkpointable(c);
      const reason = await t.checkPolicySoon(policy);
      if (reason) return { reason: `no checkpointable transport would remain: ${reason}` };
      return {
        run: async (j) => {
          const saved = t.bml.policy;
          const changes = await this.#policyStep(j, policy);
          // By name, the same order on every rank: each unload drains with the peers, and a rank
          // whose transport reloaded itself holds it last (two ranks draining different ones wait for ever).
          const unloaded = [...t.modules().keys()].filter((c) => !t.checkpointable(c)).sort();
          for (const c of unloaded) changes.push(...(await this.#unloadStep(j, c, undefined, verbFenceName(txn, 'rollback', `ckpt-${c}`))));
          await this.#ftStep(j, 'checkpoint', 'continue');
          this.#checkpointStep(j, { policy: saved, unloaded });
          changes.push('ready for checkpoint');
          return changes;
        },
      };
    }
    const saved = this.#checkpoint;
    if (!saved) return { reason: `rank ${this.rank} has no checkpoint prepared; run 'checkpoint prepare' first` };
    return {
      run: async (j) => {
        const changes: string[] = [];
        // Each transport back on the ranks that unloaded it at prepare, all ranks taking part in
        // each load: a rank whose transport an operator had unloaded before has nothing to load back.
        for (const [c, ranks] of await t.agreeWhoLoads(saved.unloaded, verbFenceName(txn, 'commit', 'ckpt'))) {
          changes.push(...(await this.#loadStep(j, c, ranks, verbFenceName(txn, 'commit', `ckpt-${c}`))));
        }
        if (phase === 'restart') {
          // After a move the addresses changed: the checkpointable transports re-wire too. Let
          // every loaded transport carry traffic first, so re-wiring one leaves the others.
          changes.push(...(await this.#policyStep(j, () => true)));
          for (const c of [...t.modules().keys()].filter((c) => c !== 'self' && t.checkpointable(c)).sort()) {
            changes.push(...(await this.#unloadStep(j, c, undefined, verbFenceName(txn, 'rollback', `restart-${c}`))));
            changes.push(...(await this.#loadStep(j, c, undefined, verbFenceName(txn, 'commit', `restart-${c}`))));
          }
        }
        changes.push(...(await this.#policyStep(j, saved.policy)));
        await this.#ftStep(j, phase === 'restart' ? 'restart' : 'continue', 'checkpoint');
        this.#checkpointStep(j, undefined);
        return changes;
      },
    };
  }

  /**
   * `migrate away`: every link of the rank being moved is drained and closed (on that rank every
   * transport but self is unloaded), so nothing of it leads to the host it leaves; messages to
   * it wait in the PML, with no deadline (no link failed). `migrate back`, once it runs on its
   * new host: it publishes where it is now and loads its transports anew; the others connect.
   */
  #migratePlan(txn: number, phase: 'away' | 'back', moving: number): Plan {
    const t = this.transports;
    const scope: Scope = new Set([moving]);
    if (phase === 'away') {
      if (this.#away) {
        const back = `switchyard ctl migrate back --ranks ${this.#away.rank}`;
        return { reason: `rank ${this.#away.rank} is already being moved; if its move stopped, '${back}' brings its links back` };
      }
      if (this.#checkpoint) return { reason: `rank ${this.rank} is prepared for a checkpoint; run 'checkpoint continue' first` };
      const components = [...t.modules().keys()].filter((c) => c !== 'self').sort();
      return {
        run: async (j) => {
          const changes: string[] = [];
          this.#awayStep(j, { rank: moving, components });
          for (const c of components) {
            changes.push(...(await this.#unloadStep(j, c, scope, verbFenceName(txn, 'rollback', `migrate-${c}`))));
          }
          changes.push(this.rank === moving ? 'ready to move' : `holding messages to rank ${moving}`);
          return changes;
        },
      };
    }
    const away = this.#away;
    if (!away || away.rank !== moving) return { reason: `rank ${moving} is not being moved; 'migrate away' comes first` };
    return {
      run: async (j) => {
        const changes: string[] = [];
        // A namespace made with plain `ip netns add` keeps the host name: the node key (its
        // network namespace) still tells that 127.0.0.1 and shared memory lead elsewhere now.
        const here = nodeKey(hostname());
        if (this.rank === moving && (t.hostname !== hostname() || t.node !== here)) {
          const renamed = t.hostname !== hostname();
          t.relocate(hostname(), here);
          changes.push(renamed ? `now on host ${hostname()}` : `now on host ${hostname()} (another network namespace)`);
        }
        // tcp first: a transport that cannot reach across hosts (sm, openib soft) fails alone.
        const order = [...away.components].sort((a, b) => Number(b === 'tcp') - Number(a === 'tcp'));
        for (const c of order) changes.push(...(await this.#loadStep(j, c, scope, verbFenceName(txn, 'commit', `migrate-${c}`))));
        this.#awayStep(j, undefined);
        return changes;
      },
    };
  }

  /**
   * Records (or clears) the move in progress; its undo restores the previous record. The rank
   * being moved has no link left to keep its event loop alive while it waits: a timer does.
   */
  #awayStep(j: UndoJournal, next: Away | undefined): void {
    const set = (away: Away | undefined) => {
      this.#away = away;
      clearInterval(this.#keepAlive);
      this.#keepAlive = away?.rank === this.rank ? setInterval(() => {}, 60_000) : undefined;
    };
    const before = this.#away;
    set(next);
    j.record([], async () => {
      set(before);
      return [];
    });
  }

  /** Notifies the transports of a checkpoint state (ft_event); its undo notifies the opposite one. */
  #ftStep(j: UndoJournal, state: FtState, opposite: FtState): Promise<string[]> {
    const hook = this.transports.bml.hooks.ftEvent;
    const notify = (s: FtState) => async () => {
      await hook.promise(s);
      return [];
    };
    return j.step(notify(state), notify(opposite));
  }

  /** Records (or clears) what `checkpoint prepare` saved; its undo restores the previous record. */
  #checkpointStep(j: UndoJournal, next: Checkpoint | undefined): void {
    const before = this.#checkpoint;
    this.#checkpoint = next;
    j.record([], async () => {
      this.#checkpoint = before;
      return [];
    });
  }

  status(): RankStatus {
    const t = this.transports;
    const components = [...t.modules()].map(([name, modules]) => ({
      name,
      checkpointable: t.checkpointable(name),
      modules: modules.map((m) => m.name),
    }));
    const names = (list: readonly { module: { name: string } }[]) => list.map((b) => b.module.name);
    const traffic = [...t.bml.trafficByComponent()].map(([btl, c]) => ({ btl, ...c }));
    const runtimeParams = Object.fromEntries(
      this.mca.params
        .list()
        .filter((p) => p.source === 'runtime')
        .map((p) => [p.spec.name, p.text]),
    );
    return {
      rank: this.rank,
      pid: process.pid,
      hostname: hostname(),
      components,
      peers: t.bml.endpoints.map((e) => ({
        rank: e.rank,
        eager: names(e.eager),
        send: names(e.send),
        rdma: names(e.rdma),
        reachable: names(e.btls),
        ...(e.fallback ? { fallback: true } : {}),
      })),
      traffic,
      ...(this.pmlState ? { pml: this.pmlState() } : {}),
      health: this.#health.health(),
      runtimeParams,
      ...(this.#prepared ? { pendingVerb: describeVerb(this.#prepared.verb) } : {}),
      ...(this.#checkpoint ? { checkpoint: 'prepared' } : {}),
      ...(this.#away ? { moving: this.#away.rank } : {}),
      failures: linkFailures(this.transports),
      ...(this.#partial ? { partialVerb: this.#partial } : {}),
    };
  }
}

/** The commit reply's `unloaded`, when the verb unloaded anything here. */
function unloadedHere(journal: UndoJournal): { unloaded?: string[] } {
  return journal.unloaded.length ? { unloaded: [...journal.unloaded] } : {};
}
