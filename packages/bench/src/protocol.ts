import type { Phase, StepReport } from './types.js';

/**
 * What the bench tells a measuring process: its plan, as one JSON argument, and where its gate
 * is. Over the gate (a Unix socket, JSON lines) the bench hands out steps and side 0 reports
 * how long each took.
 */
export interface GateAddress {
  /** The gate's Unix socket. */
  readonly path: string;
  /** Which run this process belongs to. */
  readonly session: string;
}

export interface RunPlan {
  readonly phases: readonly Phase[];
  readonly gate: GateAddress;
}

/** `cores`: where the process may run (its affinity) when it says hello, if it can tell. */
export type ClientMessage =
  | { readonly hello: string; readonly side: number; readonly cores?: readonly number[] }
  | { readonly report: StepReport };
/** `go`: run step `step` of phase `go` now (0: warm-up, then the batches); `end`: finish and exit. */
export type ServerMessage = { readonly go: number; readonly step: number } | { readonly end: true };

export function encodePlan(plan: RunPlan): string {
  return JSON.stringify(plan);
}

export function decodePlan(text: string | undefined): RunPlan {
  if (text === undefined) throw new Error('missing the bench plan argument (this program is started by `switchyard bench`)');
  const plan = JSON.parse(text) as RunPlan;
  if (!Array.isArray(plan.phases) || typeof plan.gate?.path !== 'string') throw new Error('the bench plan is incomplete');
  return plan;
}
