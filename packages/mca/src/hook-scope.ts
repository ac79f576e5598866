/**
 * tapable has no `untap`, and a component can be unloaded and loaded again while the process
 * runs. A HookScope hands a component tap-only views of hooks whose taps it can drop again, using
 * tapable's public API only: a scoped tap never goes on the hook itself. It goes to a dispatcher,
 * one real tap per hook (and per stage and `before`, so ordering against other taps holds), shared
 * by every scope and made once; disposing a scope takes its taps out of the dispatchers. A hook
 * therefore carries no stale taps however often a component is reloaded.
 */

interface TapOptions {
  name: string;
  stage?: number;
  before?: string | string[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a tap's callback, whatever the hook's arguments
type AnyFn = (...args: any[]) => any;

/** The part of a tapable hook a plugin may use: tapping, never calling. */
export interface TappableHook {
  tap(options: string | TapOptions, fn: AnyFn): void;
  tapAsync?(options: string | TapOptions, fn: AnyFn): void;
  tapPromise?(options: string | TapOptions, fn: AnyFn): void;
}

/** A frozen record of tappable hooks, like `compiler.hooks` in webpack. */
export type HookRecord = Readonly<Record<string, unknown>>;

/** Hooks a plugin may tap, as seen through a scope. */
export type TapOnly<H extends HookRecord> = { readonly [K in keyof H]: Pick<H[K] & TappableHook, 'tap' | 'tapAsync' | 'tapPromise'> };

/** Tapping through a scope whose component was unloaded. */
export class ScopeDisposedError extends Error {
  override readonly name = 'ScopeDisposedError';
  readonly code = 'ERR_SWITCHYARD_MCA_SCOPE_DISPOSED';
}

/** A tap style the hook does not take (tapAsync on a SyncHook), as tapable itself refuses it. */
export class TapKindError extends Error {
  override readonly name = 'TapKindError';
  readonly code = 'ERR_SWITCHYARD_MCA_TAP_KIND';
}

type Kind = 'sync' | 'async' | 'promise';

interface Listener {
  readonly scope: HookScope;
  readonly name: string;
  readonly kind: Kind;
  readonly fn: AnyFn;
}

/** The one real tap a hook carries for every scope's taps of one stage and `before`. */
class Dispatcher {
  readonly listeners: Listener[] = [];

  /** `sync`: the hook takes only `tap` (a SyncHook), so only sync listeners may join. */
  constructor(readonly syncOnly: boolean) {}

  add(listener: Listener): void {
    if (this.syncOnly && listener.kind !== 'sync') {
      throw new TapKindError(
        `'${listener.name}' cannot tap this hook with ${listener.kind === 'async' ? 'tapAsync' : 'tapPromise'}: it is synchronous`,
      );
    }
    this.listeners.push(listener);
  }

  runSync(args: unknown[]): unknown {
    // A copy, and a check: a listener may dispose a scope while the hook runs.
    for (const l of [...this.listeners]) {
      if (l.scope.disposed) continue;
      const result = l.fn(...args);
      if (result !== undefined) return result;
    }
    return undefined;
  }

  async runAsync(args: unknown[]): Promise<unknown> {
    for (const l of [...this.listeners]) {
      if (l.scope.disposed) continue;
      const result =
        l.kind === 'async'
          ? await new Promise((resolve, reject) => l.fn(...args, (err: unknown, value: unknown) => (err ? reject(err) : resolve(value))))
          : await l.fn(...args);
      if (result !== undefined) return result;
    }
    return undefined;
  }
}

/** Dispatchers by hook, then by stage and `before`; shared so a reload reuses them. */
const dispatchers = new WeakMap<object, Map<string, Dispatcher>>();

function dispatcherFor(hook: TappableHook, options: TapOptions): Dispatcher {
  const byKey = dispatchers.get(hook) ?? new Map<string, Dispatcher>();
  dispatchers.set(hook, byKey);
  const stage = options.stage ?? 0;
  const before = options.before === undefined ? [] : ([] as string[]).concat(options.before);
  const key = `${stage}|${before.join(',')}`;
  const found = byKey.get(key);
  if (found) return found;
  const tapOptions: TapOptions = { name: `mca-scope:${key}`, stage, ...(before.length ? { before } : {}) };
  let dispatcher: Dispatcher;
  if (hook.tapPromise) {
    try {
      dispatcher = new Dispatcher(false);
      hook.tapPromise(tapOptions, (...args: unknown[]) => dispatcher.runAsync(args));
    } catch {
      // A SyncHook refuses tapPromise before it registers anything.
      dispatcher = new Dispatcher(true);
      hook.tap(tapOptions, (...args: unknown[]) => dispatcher.runSync(args));
    }
  } else {
    dispatcher = new Dispatcher(true);
    hook.tap(tapOptions, (...args: unknown[]) => dispatcher.runSync(args));
  }
  byKey.set(key, dispatcher);
  return dispatcher;
}

export class HookScope {
  #disposed = false;
  readonly #used = new Set<Dispatcher>();

  constructor(readonly owner: string) {}

  get disposed(): boolean {
    return this.#disposed;
  }

  /** A tap-only view of `hooks` whose taps belong to this scope. */
  view<H extends HookRecord>(hooks: H): TapOnly<H> {
    const out: Record<string, unknown> = {};
    for (const [name, hook] of Object.entries(hooks)) out[name] = this.#viewOf(hook as TappableHook);
    return Object.freeze(out) as TapOnly<H>;
  }

  /** After this, none of the scope's taps runs again: they are out of every dispatcher. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const d of this.#used) {
      const kept = d.listeners.filter((l) => l.scope !== this);
      d.listeners.splice(0, d.listeners.length, ...kept);
    }
    this.#used.clear();
  }

  #viewOf(hook: TappableHook) {
    const add = (kind: Kind) => (options: string | TapOptions, fn: AnyFn) => {
      const named = typeof options === 'string' ? { name: options } : options;
      if (this.#disposed) throw new ScopeDisposedError(`'${this.owner}' was unloaded: its plugins cannot tap hooks any more`);
      const d = dispatcherFor(hook, named);
      d.add({ scope: this, name: named.name, kind, fn });
      this.#used.add(d);
    };
    return Object.freeze({ tap: add('sync'), tapAsync: add('async'), tapPromise: add('promise') });
  }
}
