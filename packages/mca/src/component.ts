import type { Param, ParamSpec } from './params.js';
import type { ParamType, ValueOf } from './param-types.js';
import type { FrameworkHooks } from './framework.js';
import type { TapOnly, HookRecord } from './hook-scope.js';

/** A parameter as a component declares it: `name` is local (`eager_limit` becomes `btl_tcp_eager_limit`). */
export type ComponentParamSpec<T extends ParamType = ParamType> = Omit<ParamSpec<T>, 'owner'>;

/** What `register` receives: declare parameters (Open MPI's `mca_register_component_params`). */
export interface RegisterContext {
  readonly framework: string;
  readonly component: string;
  param<T extends ParamType>(spec: ComponentParamSpec<T>): Param<T>;
}

/** A component's own parameters by local name. */
export interface ComponentParams {
  get<T = unknown>(localName: string): T;
  /** The full MCA name of a local one. */
  fullName(localName: string): string;
  /**
   * Sets a per-device default (see ParamRegistry.setDeviceDefault): in force unless a user set
   * the parameter. Absent where no registry stands behind the parameters (a test's stub).
   */
  deviceDefault?(localName: string, raw: unknown, origin: string): void;
}

export interface OpenContext {
  readonly framework: string;
  readonly component: string;
  readonly params: ComponentParams;
  /** Writes when the framework's verbosity is on. */
  log(message: string): void;
}

/**
 * `open` may decline: the component is then listed as unavailable, with the reason. When it
 * accepts, `details` are lines `switchyard info` shows under it (provider, devices, addresses).
 */
export type OpenResult =
  | { readonly available: true; readonly details?: readonly string[] }
  | { readonly available: false; readonly reason: string };

/** What a component's `apply` receives: the framework's hooks, tap-only and scoped to this load. */
export interface FrameworkView<H extends HookRecord = FrameworkHooks> {
  readonly name: string;
  readonly hooks: TapOnly<H>;
}

/**
 * The generic MCA component: what a package's entry module exports (as `default` or `component`).
 * Each framework refines it; `btl` adds its module type and init context in `@switchyard/core-bml`.
 */
export interface McaComponent<Module = unknown, InitContext = unknown> {
  /** Declare parameters. Called once per process, before selection. */
  register?(ctx: RegisterContext): void;
  /** Query the environment; decline with `{ available: false, reason }`. Called at every (re)load. */
  open?(ctx: OpenContext): void | OpenResult | Promise<void | OpenResult>;
  /** Create the modules (e.g. one per interface). Called at every (re)load after open. */
  init?(ctx: InitContext): Module[] | Promise<Module[]>;
  /** Release what open acquired. Modules are finalized before. */
  close?(): void | Promise<void>;
  /** Tap the framework's hooks, webpack-plugin style; the taps are dropped when the component is unloaded. */
  apply?(framework: FrameworkView<FrameworkHooks<McaComponent<Module, InitContext>, Module>>): void;
}

export type { ValueOf };
