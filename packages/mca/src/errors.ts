import type { ParamSource } from './sources.js';
/** Where a setting or a problem came from: a file position, or a named source without one. */
export interface SourceLocation {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

export function formatLocation(loc: SourceLocation): string {
  if (!loc.file) return '';
  let out = loc.file;
  if (loc.line !== undefined) out += `:${loc.line}`;
  if (loc.line !== undefined && loc.column !== undefined) out += `:${loc.column}`;
  return out;
}

/** One problem found in the configuration: a file that does not parse, a value of the wrong type. */
export class McaIssue extends Error {
  override readonly name = 'McaIssue';
  constructor(
    message: string,
    readonly location: SourceLocation = {},
    /** Where the value came from, when a setting's value is what is wrong (a bad `--mca` value is a usage error). */
    readonly source?: ParamSource,
  ) {
    super(message);
  }

  /** `file:line:col: message`, the form editors and terminals link. */
  describe(): string {
    const where = formatLocation(this.location);
    return where ? `${where}: ${this.message}` : this.message;
  }
}

/** A parameter one file sets twice (the command line refuses it too): neither value is used. */
export function setTwiceIssue(key: string, firstLine: number, location: SourceLocation & { line: number }): McaIssue {
  return new McaIssue(`'${key}' is set twice, at lines ${firstLine} and ${location.line}: set it once`, location);
}

/**
 * The configuration could not be used. Carries every problem found, so a user fixes them all in
 * one go; nothing of a configuration that raised this is applied.
 */
export class McaConfigError extends Error {
  override readonly name = 'McaConfigError';
  readonly code = 'ERR_SWITCHYARD_MCA_CONFIG';
  constructor(readonly issues: readonly McaIssue[]) {
    super(
      issues.length === 1
        ? `invalid MCA configuration: ${issues[0]!.describe()}`
        : `invalid MCA configuration (${issues.length} problems):\n${issues.map((i) => `  - ${i.describe()}`).join('\n')}`,
    );
  }
}

/** A component requested by an include list could not be used; lists what is available. */
export class McaSelectionError extends Error {
  override readonly name = 'McaSelectionError';
  readonly code = 'ERR_SWITCHYARD_MCA_SELECTION';
}
