/**
 * The kit's unloads of the component under test that have not settled. The kit stops waiting for
 * one at its call limit (a finalize that never resolves: the rule it ran in fails, naming it), but
 * the framework keeps the component loaded until that finalize ends. The job's finalize would then
 * unload it again, call into the same hung finalize and wait out the call limit a second time,
 * only for the rank to leave without finalizing all the same: a rank with one under way leaves at
 * once instead (the job ends as it would have, its verdicts printed, without the second wait).
 */
let underWay = 0;

/** `unload` (the framework's unload of the component under test), counted until it settles. */
export function tracked(unload: Promise<void>): Promise<void> {
  underWay += 1;
  const settled = () => void (underWay -= 1);
  unload.then(settled, settled);
  return unload;
}

/** Whether an unload of the component the kit started has not settled: its finalize still hangs. */
export const unloadHangs = (): boolean => underWay > 0;
