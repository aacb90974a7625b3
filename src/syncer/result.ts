// What a syncer reconcile returns: the work queue's ReconcileResult (done, or look again after
// `requeueAfter`) plus how it ended, for the `result` label of the reconcile duration metric.
// Failures are thrown, never returned: a TerminalError is dropped, anything else retried with backoff.
import type { ReconcileResult } from '../kube/workqueue.ts';

/**
 * - ok: the remote agrees (now, or after our writes);
 * - wait: it cannot agree yet (twin missing or terminating, a cache that lags);
 * - skip: this remote is not selected for the namespace;
 * - conflict: the name is taken by an object we do not own (reported, left alone);
 * - invalid-selector: the namespace's clusters selector does not parse (twins left as they are);
 * - terminating, foreign: the twin namespace is being deleted, or is not ours.
 */
export type Outcome = 'ok' | 'wait' | 'skip' | 'conflict' | 'invalid-selector' | 'terminating' | 'foreign';

export interface SyncResult extends ReconcileResult {
  outcome: Outcome;
}

export const done = (outcome: Outcome = 'ok'): SyncResult => ({ outcome });

export const requeueAfter = (ms: number): SyncResult => ({ outcome: 'wait', requeueAfter: ms });
