import { hostname } from 'node:os';
import type { Scope, Transports } from '@switchyard/core-bml';
import { isSelected, parseSelection, type Mca } from '@switchyard/mca';
import type { WireUp } from '@switchyard/runtime';
import { describeVerb, type AgentRequest, type CommitReply, type PrepareReply, type RankStatus, type Verb } from './protocol.js';

type Policy = (peer: number, component: string) => boolean;

/** `btl_<component>_exclusivity`: the one BTL limit a running job can take a new value of. */
const EXCLUSIVITY_PARAM = /^btl_([a-z0-9]+)_exclusivity$/;

/** What `checkpoint prepare` saved for `continue` / `restart`. */
interface Checkpoint {
  readonly policy: Policy;
  readonly unloaded: readonly string[];
}

/** A prepared verb: the plan a commit carries out. */
interface Prepared {
  readonly txn: number;
  readonly verb: Verb;
  readonly run: () => Promise<string[]>;
}

/**
 * A rank's side of the control verbs: answers the coordinator's prepare (check only, change
 * nothing), commit (carry out, collectively with every other rank) and abort, and reports
 * status. Installed by `init()` on the runtime's out-of-band channel, never on a BTL.
 */
export class ControlAgent {
  #prepared?: Prepared;
  #checkpoint?: Checkpoint;
  /** Transactions aborted, possibly before their prepare finished planning here. */
  readonly #aborted = new Set<number>();

  constructor(
    readonly transports: Transports,
    readonly mca: Mca,
    readonly wireup: WireUp,
  ) {}

  install(): void {
    this.wireup.onRequest((body) => this.handle(body as AgentRequest));
    // What `ctl status` shows of this rank while application code keeps its thread busy.
    this.wireup.publishSnapshot?.(() => this.status());
  }

  async handle(request: AgentRequest): Promise<unknown> {
    switch (request.ctl) {
      case 'status':
        return this.status();
      case 'prepare':
        return this.prepare(request.txn, request.verb);
      case 'commit':
        return this.commit(request.txn);
      case 'abort':
        this.#aborted.add(request.txn);
        if (this.#prepared?.txn === request.txn) this.#prepared = undefined;
        return { ok: true };
      default:
        throw new Error(`unknown control request ${JSON.stringify(request)}`);
    }
  }

  async prepare(txn: number, verb: Verb): Promise<PrepareReply> {
    // The coordinator runs one verb at a time: a newer prepare means an older one was given up.
    if (this.#prepared && this.#prepared.txn < txn) this.#prepared = undefined;
    if (this.#prepared) return { ok: false, reason: `rank ${this.rank} is in the middle of '${describeVerb(this.#prepared.verb)}'` };
    let plan: { reason?: string; run?: () => Promise<string[]> };
    try {
      plan = await this.#plan(txn, verb);
    } catch (err) {
      plan = { reason: (err as Error).message };
    }
    if (plan.reason || !plan.run) return { ok: false, reason: plan.reason ?? 'nothing to do' };
    // Aborted while it was being planned: keep nothing.
    if (this.#aborted.has(txn)) return { ok: false, reason: `verb ${txn} was aborted` };
    this.#prepared = { txn, verb, run: plan.run };
    return { ok: true, summary: describeVerb(verb) };
  }

  async commit(txn: number): Promise<CommitReply> {
    const started = performance.now();
    const prepared = this.#prepared;
    if (!prepared || prepared.txn !== txn) {
      return { ok: false, changes: [], error: `rank ${this.rank} has no prepared verb ${txn}`, ms: 0 };
    }
    try {
      const changes = await prepared.run();
      return { ok: true, changes, ms: performance.now() - started };
    } catch (err) {
      return { ok: false, changes: [], error: `rank ${this.rank}: ${(err as Error).message}`, ms: performance.now() - started };
    } finally {
      this.#prepared = undefined;
    }
  }

  get rank(): number {
    return this.transports.identity.rank;
  }

  /** Checks `verb` on this rank and returns what commit will run, or why it cannot. */
  async #plan(txn: number, verb: Verb): Promise<{ reason?: string; run?: () => Promise<string[]> }> {
    const t = this.transports;
    const scope: Scope = 'ranks' in verb && verb.ranks?.length ? new Set(verb.ranks) : undefined;
    const current = t.bml.policy;
    const loaded = () => [...t.modules().keys()];
    switch (verb.verb) {
      case 'switch': {
        const missing = verb.btls.filter((b) => !t.modules().has(b));
        if (missing.length) return { reason: `btl ${missing.map((m) => `'${m}'`).join(', ')} is not loaded on rank ${this.rank} (loaded: ${loaded().join(', ')})` };
        const me = this.rank;
        const policy: Policy = (peer, c) => (t.inScope(peer, scope) ? verb.btls.includes(c) || (c === 'self' && peer === me) : current(peer, c));
        return this.#policyPlan(policy);
      }
      case 'reset': {
        const policy: Policy = (peer, c) => (t.inScope(peer, scope) ? true : current(peer, c));
        return this.#policyPlan(policy);
      }
      case 'unload': {
        const reason = t.checkUnload(verb.btl, scope);
        return reason ? { reason } : { run: () => t.unload(verb.btl, scope) };
      }
      case 'load': {
        const reason = await t.checkLoad(verb.btl, scope);
        return reason ? { reason } : { run: () => t.load(verb.btl, scope, `ctl-load-${txn}`) };
      }
      case 'checkpoint':
        return this.#checkpointPlan(txn, verb.phase);
      case 'apply':
        return this.#applyPlan(txn, verb.mca, scope);
    }
  }

  /**
   * `apply --mca K V…`: validates every value as a run-time change (changing nothing yet); a new
   * `btl` selection becomes the loads and unloads that reconcile the loaded set with it.
   */
  async #applyPlan(txn: number, pairs: ReadonlyArray<readonly [string, string]>, scope: Scope): Promise<{ reason?: string; run?: () => Promise<string[]> }> {
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
      const candidates = wanted.mode === 'include' ? wanted.names : [...loaded];
      for (const name of candidates) {
        const record = t.framework.record(name);
        if (!record?.loadable) return { reason: `btl=${selection}: component '${name}' ${record ? `cannot be used: ${record.reason}` : 'does not exist'}` };
      }
      toLoad = candidates.filter((c) => !loaded.has(c)).sort();
      toUnload = [...loaded].filter((c) => !isSelected(wanted, c)).sort();
      const current = t.bml.policy;
      const reason = t.checkPolicy((peer, c) => current(peer, c) && !toUnload.includes(c));
      if (reason && !toLoad.length) return { reason: `btl=${selection}: ${reason}` };
    }
    return {
      run: async () => {
        const changes: string[] = [];
        for (const [key, value] of pairs) {
          params.setRuntime(key, value);
          changes.push(`${key} = ${value} (runtime)`);
        }
        for (const c of toLoad) changes.push(...(await t.load(c, undefined, `ctl-apply-${txn}-${c}`)));
        for (const c of toUnload) changes.push(...(await t.unload(c, undefined)));
        // A new exclusivity re-ranks the loaded modules; traffic moved off a link is drained.
        for (const [key] of pairs) {
          const component = EXCLUSIVITY_PARAM.exec(key)?.[1];
          if (component) changes.push(...(await t.applyExclusivity(component, params.get<number>(key))));
        }
        return changes;
      },
    };
  }

  #policyPlan(policy: Policy) {
    const reason = this.transports.checkPolicy(policy);
    return reason ? { reason } : { run: () => this.transports.applyPolicy(policy) };
  }

  #checkpointPlan(txn: number, phase: 'prepare' | 'continue' | 'restart'): { reason?: string; run?: () => Promise<string[]> } {
    const t = this.transports;
    if (phase === 'prepare') {
      if (this.#checkpoint) return { reason: `rank ${this.rank} is already prepared for a checkpoint; run 'checkpoint continue' first` };
      const policy: Policy = (_, c) => t.checkpointable(c);
      const reason = t.checkPolicy(policy);
      if (reason) return { reason: `no checkpointable transport would remain: ${reason}` };
      return {
        run: async () => {
          const saved = t.bml.policy;
          const changes = await t.applyPolicy(policy);
          const unloaded = [...t.modules().keys()].filter((c) => !t.checkpointable(c));
          for (const c of unloaded) changes.push(...(await t.unload(c, undefined)));
          await t.bml.hooks.ftEvent.promise('checkpoint');
          this.#checkpoint = { policy: saved, unloaded };
          changes.push('ready for checkpoint');
          return changes;
        },
      };
    }
    const saved = this.#checkpoint;
    if (!saved) return { reason: `rank ${this.rank} has no checkpoint prepared; run 'checkpoint prepare' first` };
    return {
      run: async () => {
        const changes: string[] = [];
        for (const c of saved.unloaded) changes.push(...(await t.load(c, undefined, `ctl-ckpt-${txn}-${c}`)));
        if (phase === 'restart') {
          // After a move the addresses changed: the checkpointable transports re-wire too. Let
          // every loaded transport carry traffic first, so re-wiring one leaves the others.
          changes.push(...(await t.applyPolicy(() => true)));
          for (const c of [...t.modules().keys()].filter((c) => c !== 'self' && t.checkpointable(c))) {
            changes.push(...(await t.unload(c, undefined)));
            changes.push(...(await t.load(c, undefined, `ctl-restart-${txn}-${c}`)));
          }
        }
        changes.push(...(await t.applyPolicy(saved.policy)));
        await t.bml.hooks.ftEvent.promise(phase === 'restart' ? 'restart' : 'continue');
        this.#checkpoint = undefined;
        return changes;
      },
    };
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
    const runtimeParams = Object.fromEntries(this.mca.params.list().filter((p) => p.source === 'runtime').map((p) => [p.spec.name, p.text]));
    return {
      rank: this.rank,
      pid: process.pid,
      hostname: hostname(),
      components,
      peers: t.bml.endpoints.map((e) => ({ rank: e.rank, eager: names(e.eager), send: names(e.send), rdma: names(e.rdma), reachable: names(e.btls) })),
      traffic,
      runtimeParams,
      ...(this.#prepared ? { pendingVerb: describeVerb(this.#prepared.verb) } : {}),
      ...(this.#checkpoint ? { checkpoint: 'prepared' } : {}),
    };
  }
}
