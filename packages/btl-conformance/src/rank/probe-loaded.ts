/**
 * The probe before a failed module is reloaded (the framework's `query`, run by module recovery)
 * runs while the component is still loaded, its modules alive. An `open` that declines because
 * this process's own module holds the device declines that probe every time: after a fatal error
 * the transport never comes back. So `open` must accept while the component's modules are alive.
 */
export async function probeWhileLoaded(
  query: () => Promise<{ available: boolean; reason?: string }>,
  name: string,
  modules: number,
): Promise<string[]> {
  let answer: { available: boolean; reason?: string };
  try {
    answer = await query();
  } catch (error) {
    answer = { available: false, reason: `the query threw: ${(error as Error).message}` };
  }
  if (answer.available) return [];
  const why = answer.reason ?? 'no reason given';
  return [`open() of btl ${name} declined while this rank's ${modules} module(s) of it were loaded (${why}); ` +
    `the probe before a failed module is reloaded runs with the component loaded, so the transport would never come back ` +
    `after a fatal error: open must accept what the process's own modules hold`];
}
