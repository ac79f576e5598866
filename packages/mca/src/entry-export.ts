/**
 * The component an entry module exports: an ES module's `default`, else its `component`. Loaded
 * with `import()`, a CommonJS module's `default` is its whole `module.exports`: the component
 * itself (`module.exports = component`), or an object that holds it as `default` (TypeScript's
 * `export default` compiled to CommonJS) or as `component` (`exports.component = ...`). The first
 * of these that `isComponent` accepts; else the first there is, for the check to name what is wrong.
 */
export function exportedComponent(exported: Record<string, unknown>, isComponent: (candidate: object) => boolean): unknown {
  const commonJs = objectOrUndefined(exported.default);
  const candidates = [exported.default, exported.component, commonJs?.default, commonJs?.component];
  const objects = candidates.filter((c): c is object => objectOrUndefined(c) !== undefined);
  return objects.find(isComponent) ?? exported.default ?? exported.component;
}

function objectOrUndefined(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
}
