// Section "syncer": the rows of issue 6 §3. Not measured yet: the syncer is not a sandbox
// component (src/sandbox/components.ts starts only the webhook). To measure it, start it with
// `(await ctx.sandbox()).startComponent(...)` and replace `run` below; keep the row names, they are
// the ones README and results.json consumers know.
//   burst:   2,000 stamped ConfigMaps created locally with N clients; time until all copies exist
//            remotely, vs the same 2,000 objects written directly to the remote at the same N.
//   single:  one object at a time: local write -> remote copy visible (watch), p99 of ~100.
//   restart: 5,000 objects in sync, restart the syncer: time to /readyz, and writes it issued
//            (remote apiserver audit log, or the syncer's write counter) — target 0.
//   memory:  VmRSS of the syncer process with 10,000 objects in its caches.
import { unmeasuredRow } from '../lib/stats.ts';
import type { BenchOptions, Row, Section } from '../lib/types.ts';

const ROWS = (_options: BenchOptions): Array<Pick<Row, 'name' | 'unit' | 'target'>> => [
  { name: 'burst of 2,000 objects: time until replicated (vs direct writes)', unit: 's', target: { on: 'ratio', op: '<=', value: 1.25 } },
  { name: 'single-object replication: p99', unit: 'ms', target: { on: 'ours', op: '<=', value: 150 } },
  { name: 'restart over 5,000 in-sync objects: time to ready', unit: 's', target: null },
  { name: 'restart over 5,000 in-sync objects: writes issued', unit: 'writes', target: { on: 'ours', op: '<=', value: 0 } },
  { name: 'RSS with 10,000 cached objects', unit: 'MiB', target: { on: 'ours', op: '<=', value: 150 } },
];

export const REASON = 'the syncer is not a sandbox component yet: src/sandbox/components.ts';

export const syncerSection: Section = {
  id: 'syncer',
  title: 'Syncer (local -> remote replication)',
  plannedRows: ROWS,
  run: async (ctx) => ROWS(ctx.options).map((row) => unmeasuredRow('syncer', row, REASON)),
};
