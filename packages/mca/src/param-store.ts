import { sourceRank, type Setting } from './sources.js';

/**
 * Every raw setting from every source, kept so a parameter registered later (a component loaded
 * at run time) still finds its value, and so `info` can show where each value came from.
 */
export class ParamStore {
  readonly #byName = new Map<string, Setting[]>();

  add(setting: Setting): void {
    const list = this.#byName.get(setting.name) ?? [];
    list.push(setting);
    this.#byName.set(setting.name, list);
  }

  addAll(settings: Iterable<Setting>): void {
    for (const s of settings) this.add(s);
  }

  /**
   * The winning setting: the highest source; within one source the first given wins, as with
   * Open MPI's leftmost parameter file.
   */
  highest(name: string): Setting | undefined {
    let best: Setting | undefined;
    for (const s of this.#byName.get(name) ?? []) {
      if (!best || sourceRank(s.source) > sourceRank(best.source)) best = s;
    }
    return best;
  }

  /** Replaces the per-device default of `name`; `origin` names the device and its table (shown by `info`). */
  setDevice(name: string, raw: unknown, origin: string): void {
    const kept = (this.#byName.get(name) ?? []).filter((s) => s.source !== 'device');
    kept.push({ name, raw, source: 'device', file: origin });
    this.#byName.set(name, kept);
  }

  /** Replaces any runtime setting of `name` (runtime changes do not accumulate). */
  setRuntime(name: string, raw: unknown): void {
    const kept = (this.#byName.get(name) ?? []).filter((s) => s.source !== 'runtime');
    kept.push({ name, raw, source: 'runtime' });
    this.#byName.set(name, kept);
  }

  clearRuntime(name: string): void {
    const kept = (this.#byName.get(name) ?? []).filter((s) => s.source !== 'runtime');
    if (kept.length) this.#byName.set(name, kept);
    else this.#byName.delete(name);
  }

  names(): string[] {
    return [...this.#byName.keys()];
  }

  all(name: string): readonly Setting[] {
    return this.#byName.get(name) ?? [];
  }
}
