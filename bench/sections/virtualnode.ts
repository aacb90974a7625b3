// Section "virtualnode": the rows of issue 6 §4. Not measured yet: the virtual node provider is
// not among the sandbox's components (src/sandbox/components.ts). To measure it, start
// virtualNodeComponent() (src/virtualnode/sandbox.ts) with `(await ctx.sandbox()).startComponent()`
// and replace `run` below, keeping the row names.
//   status lag: remote pod Running -> local pod Running, p99 over ~50 offloaded pods.
//   burst:      200 pods placed Remote at once: time until all are Running locally.
import { unmeasuredRow } from '../lib/stats.ts';
import type { BenchOptions, Row, Section } from '../lib/types.ts';

const ROWS = (_options: BenchOptions): Array<Pick<Row, 'name' | 'unit' | 'target'>> => [
  { name: 'status lag remote Running -> local Running: p99', unit: 'ms', target: { on: 'ours', op: '<=', value: 2000 } },
  { name: 'burst of 200 offloaded pods: time until all Running', unit: 's', target: null },
];

export const REASON = 'the virtual node provider is not a sandbox component yet (src/sandbox/components.ts)';

export const virtualNodeSection: Section = {
  id: 'virtualnode',
  title: 'Virtual node provider',
  plannedRows: ROWS,
  run: async (ctx) => ROWS(ctx.options).map((row) => unmeasuredRow('virtualnode', row, REASON)),
};
