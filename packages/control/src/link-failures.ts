import type { Transports } from '@switchyard/core-bml';
import type { LinkFailure } from './protocol.js';

/**
 * What `ctl status` shows of a rank's faults: each failed module once (its links failed with
 * it), then the failed links of modules that are otherwise up.
 */
export function linkFailures(transports: Transports): LinkFailure[] {
  const bml = transports.bml;
  const at = (ms: number) => new Date(ms).toISOString();
  const modules = [...transports.modules().values()].flat();
  const fatal = modules.flatMap((m) => {
    const f = bml.moduleFailure(m);
    return f ? [{ module: m.name, severity: f.severity, error: f.error.message, at: at(f.at) }] : [];
  });
  const links = bml
    .failedLinks()
    .filter((b) => !bml.moduleFailure(b.module))
    .map((b) => ({
      module: b.module.name,
      peer: b.rank,
      severity: b.failure!.severity,
      error: b.failure!.error.message,
      at: at(b.failure!.at),
    }));
  return [...fatal, ...links];
}
