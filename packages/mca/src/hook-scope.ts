/**
 * tapable has no `untap`, and a component can be unloaded and loaded again while the process
 * runs. A HookScope hands a component guarded views of hooks: every tap it makes is wrapped so
 * that, once the scope is disposed, the tap does nothing, and it is removed from the hook.
 */

interface TapOptions {
  name: string;
  stage?: number;
  before?: string | string[];
}

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

interface HookInternals {
  taps: Array<{ fn: AnyFn }>;
  _resetCompilation?: () => void;
  tap: TappableHook['tap'];
  tapAsync?: TappableHook['tapAsync'];
  tapPromise?: TappableHook['tapPromise'];
}

export class HookScope {
  #disposed = false;
  readonly #wrapped = new Map<HookInternals, Set<AnyFn>>();

  constructor(readonly owner: string) {}

  get disposed(): boolean {
    return this.#disposed;
  }

  /** A tap-only view of `hooks` whose taps belong to this scope. */
  view<H extends HookRecord>(hooks: H): TapOnly<H> {
    const out: Record<string, unknown> = {};
    for (const [name, hook] of Object.entries(hooks)) out[name] = this.#viewOf(hook as HookInternals);
    return Object.freeze(out) as TapOnly<H>;
  }

  /** After this, none of the scope's taps runs again, and they are taken off their hooks. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const [hook, fns] of this.#wrapped) {
      hook.taps = hook.taps.filter((t) => !fns.has(t.fn));
      // Hooks compile their call function lazily from `taps`; make them recompile.
      hook._resetCompilation?.();
    }
    this.#wrapped.clear();
  }

  #viewOf(hook: HookInternals) {
    const named = (options: string | TapOptions): TapOptions =>
      typeof options === 'string' ? { name: options } : options;
    const track = (fn: AnyFn) => {
      if (this.#disposed) throw new Error(`'${this.owner}' was unloaded: its plugins cannot tap hooks any more`);
      const set = this.#wrapped.get(hook) ?? new Set();
      set.add(fn);
      this.#wrapped.set(hook, set);
      return fn;
    };
    return Object.freeze({
      tap: (options: string | TapOptions, fn: AnyFn) =>
        hook.tap(named(options), track((...args: unknown[]) => (this.#disposed ? undefined : fn(...args)))),
      tapAsync: (options: string | TapOptions, fn: AnyFn) =>
        hook.tapAsync?.(
          named(options),
          track((...args: unknown[]) => {
            if (!this.#disposed) return fn(...args);
            (args[args.length - 1] as AnyFn)();
          }),
        ),
      tapPromise: (options: string | TapOptions, fn: AnyFn) =>
        hook.tapPromise?.(named(options), track((...args: unknown[]) => (this.#disposed ? Promise.resolve() : fn(...args)))),
    });
  }
}
