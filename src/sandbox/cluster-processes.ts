// The processes of one cluster, by component: each started with its log in <dir>/logs and
// recorded in the pidfile on every change, waited for against the cluster's start deadline
// (failing fast, with the log tail, when the process dies first), and stopped in dependency order.
import path from 'node:path';
import { poll } from '../common/async.ts';
import { spawnManaged, type ManagedProcess, type ProcessRecord } from './procs.ts';

export type ComponentName =
  'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok' | 'pod-server';

// Throwaway clusters: no need for kube-apiserver's slow graceful shutdown (> 5 s).
const STOP_GRACE_MS: Record<ComponentName, number> = {
  kwok: 3000,
  'pod-server': 3000,
  'kube-scheduler': 3000,
  'kube-controller-manager': 3000,
  'kube-apiserver': 0,
  etcd: 5000,
};

// Clients first (in parallel), then kube-apiserver, then etcd: nothing loses its server
// while it is still running.
const STOP_ORDER: ComponentName[][] = [
  ['kwok', 'pod-server', 'kube-scheduler', 'kube-controller-manager'],
  ['kube-apiserver'],
  ['etcd'],
];

/** How many log lines an error message quotes. */
const LOG_TAIL_LINES = 25;

export interface ClusterProcessesOptions {
  clusterName: string;
  /** Working directory of every process. */
  dir: string;
  logDir: string;
  /** Epoch ms by which the cluster must be up: every readiness wait shares this deadline. */
  deadline: number;
  /** Called whenever a process starts or stops (to rewrite the pidfile). */
  onChange: (records: ProcessRecord[]) => void;
}

export class ClusterProcesses {
  private readonly options: ClusterProcessesOptions;
  private readonly running = new Map<ComponentName, ManagedProcess>();

  constructor(options: ClusterProcessesOptions) {
    this.options = options;
  }

  records(): ProcessRecord[] {
    return [...this.running.values()].map((managed) => managed.record);
  }

  isRunning(component: ComponentName): boolean {
    const managed = this.running.get(component);
    return !!managed && !managed.exitStatus();
  }

  /** Spawns `argv` as `component`; `env` entries are added to (or override) ours. */
  async launch(component: ComponentName, argv: string[], env?: Record<string, string>): Promise<ManagedProcess> {
    const { clusterName, dir, logDir } = this.options;
    const managed = await spawnManaged({
      name: `${clusterName}/${component}`,
      argv,
      logFile: path.join(logDir, `${component}.log`),
      cwd: dir,
      ...(env ? { env } : {}),
    });
    this.running.set(component, managed);
    this.changed();
    return managed;
  }

  /**
   * Waits until `check` passes, at the latest by the start deadline (at least 1 s, however late
   * it is). Fails fast, with the tail of the component's log, if the component exits first.
   * `what` describes the awaited state in messages ("/readyz ok").
   */
  async waitReady(component: ComponentName, check: () => Promise<boolean>, what: string): Promise<void> {
    const managed = this.running.get(component)!;
    const description = `${this.options.clusterName}/${component} ${what}`;
    await poll(async () => (await check()) || undefined, {
      timeoutMs: Math.max(1000, this.options.deadline - Date.now()),
      intervalMs: 100,
      description,
      abortIf: () => this.throwIfExited(component, managed, what),
    }).catch((err: Error) => {
      if (err.message.startsWith('timed out')) err.message += `\n${logExcerpt(managed)}`;
      throw err;
    });
  }

  /** Stops one component; false when it was not running. */
  async stop(component: ComponentName, graceMs: number): Promise<boolean> {
    if (!(await this.stopWithoutRecording(component, graceMs))) return false;
    this.changed();
    return true;
  }

  async stopAll(): Promise<void> {
    for (const batch of STOP_ORDER) {
      await Promise.all(batch.map((component) => this.stopWithoutRecording(component, STOP_GRACE_MS[component])));
    }
    this.changed();
  }

  /** Lets every process outlive this Node process (`sandbox up`). */
  releaseAll(): void {
    for (const managed of this.running.values()) managed.release();
  }

  private async stopWithoutRecording(component: ComponentName, graceMs: number): Promise<boolean> {
    const managed = this.running.get(component);
    if (!managed) return false;
    await managed.stop(graceMs);
    this.running.delete(component);
    return true;
  }

  private throwIfExited(component: ComponentName, managed: ManagedProcess, what: string): void {
    const status = managed.exitStatus();
    if (!status) return;
    const { clusterName } = this.options;
    throw new Error(
      `${clusterName}/${component} exited (code ${status.code}, signal ${status.signal}) before ${what}; ` +
        logExcerpt(managed),
    );
  }

  private changed(): void {
    this.options.onChange(this.records());
  }
}

/** "<log file>:\n<last lines>", for error messages. */
export function logExcerpt(managed: ManagedProcess): string {
  return `${managed.record.logFile}:\n${managed.logTail(LOG_TAIL_LINES)}`;
}
