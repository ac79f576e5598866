/**
 * The keys of the JSON object that starts at `open` (the offset of its `{`), as written: each
 * key at that object's own level with the offset of its opening quote. JSON.parse keeps the last
 * of two equal keys without a word; this is how a config file's duplicate is found and placed.
 * The text is known to parse (it was parsed before): no error handling.
 */
export function jsonObjectKeys(text: string, open: number): Array<{ key: string; offset: number }> {
  const keys: Array<{ key: string; offset: number }> = [];
  let depth = 0;
  // At depth 1, the next string is a key after `{` or `,`, a value after `:`.
  let expectKey = false;
  for (let i = open; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 1 && expectKey) {
        keys.push({ key: JSON.parse(text.slice(start, i + 1)) as string, offset: start });
        expectKey = false;
      }
    } else if (ch === '{' || ch === '[') {
      depth++;
      expectKey = depth === 1;
    } else if (ch === '}' || ch === ']') {
      depth--;
      if (depth === 0) break;
    } else if (ch === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}
