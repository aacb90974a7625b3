// What `peer` and `unpeer` print: one line per object they looked at, then a verdict.
import type { Step } from './peer.ts';

/** Aligned lines: cluster, object, action and its detail. */
export function formatSteps(steps: Step[]): string {
  const width = Math.max(0, ...steps.map((step) => step.object.length));
  const line = (step: Step): string => {
    const detail = step.detail ? ` (${step.detail})` : '';
    return `  ${step.cluster.padEnd(6)}  ${step.object.padEnd(width)}  ${step.action}${detail}`;
  };
  return steps.map(line).join('\n') + (steps.length ? '\n' : '');
}
