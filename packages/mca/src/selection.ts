/**
 * Open MPI's include / exclude lists: `tcp,self` selects only those, `^openib` all but those.
 * A `^` anywhere but first, or a list that mixes both forms, is an error (Open MPI calls this
 * "too many negates").
 */
export type Selection =
  | { readonly mode: 'all' }
  | { readonly mode: 'include'; readonly names: readonly string[] }
  | { readonly mode: 'exclude'; readonly names: readonly string[] };

export function parseSelection(value: string | readonly string[]): Selection {
  const text = (typeof value === 'string' ? value : value.join(',')).trim();
  if (text === '') return { mode: 'all' };
  const exclude = text.startsWith('^');
  const body = exclude ? text.slice(1) : text;
  const names = body.split(',').map((n) => n.trim());
  for (const name of names) {
    if (name.includes('^')) {
      throw new Error(
        `'${text}' mixes include and exclude: a '^' may only stand first and negates the whole list (e.g. '^openib,tcp')`,
      );
    }
    if (name === '') throw new Error(`'${text}' has an empty component name`);
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`'${name}' in '${text}' is not a component name`);
  }
  return exclude ? { mode: 'exclude', names } : { mode: 'include', names };
}

export function isSelected(selection: Selection, name: string): boolean {
  switch (selection.mode) {
    case 'all':
      return true;
    case 'include':
      return selection.names.includes(name);
    case 'exclude':
      return !selection.names.includes(name);
  }
}

export function formatSelection(selection: Selection): string {
  if (selection.mode === 'all') return '';
  return (selection.mode === 'exclude' ? '^' : '') + selection.names.join(',');
}
