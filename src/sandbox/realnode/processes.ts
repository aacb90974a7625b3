// The real nodes' processes: containerd, kubelet, kube-proxy and CoreDNS inside a node's network
// namespace (through nsenter, which keeps the host's mount namespace so that containerd sees the
// kubelet's volume mounts), the apiserver relays on the host. Each is recorded in the host state
// (host-state.ts) as soon as it runs, so `sandbox down` finds it from any process.
import path from 'node:path';
import { poll } from '../../common/async.ts';
import { readCmdline, spawnManaged, type ManagedProcess, type ProcessRecord } from '../procs.ts';
import { recordRealNodeProcesses } from './host-state.ts';
import { executable, netnsPath } from './system.ts';

export interface LaunchSpec {
  /** e.g. "local/kubelet" */
  name: string;
  argv: string[];
  logDir: string;
  /** Run inside this network namespace (default: the host's). */
  netns?: string;
  env?: Record<string, string>;
}

const EXEC_TIMEOUT_MS = 5000;

function sameArgv(actual: string[] | undefined, expected: string[]): boolean {
  return !!actual && actual.length === expected.length && actual.every((arg, i) => arg === expected[i]);
}

export class RealNodeProcesses {
  private readonly running: ManagedProcess[] = [];
  private readonly persistent: boolean;

  /** `persistent`: the processes outlive this Node process (`sandbox up`). */
  constructor(persistent: boolean) {
    this.persistent = persistent;
  }

  records(): ProcessRecord[] {
    return this.running.map((managed) => managed.record);
  }

  /** Starts a process; in a netns, records it under the argv it has once nsenter exec'd it. */
  async launch(spec: LaunchSpec): Promise<ManagedProcess> {
    const prefix = spec.netns ? [executable('nsenter'), `--net=${netnsPath(spec.netns)}`, '--'] : [];
    const logFile = path.join(spec.logDir, `${spec.name.split('/').pop()}.log`);
    const managed = await spawnManaged({
      name: spec.name,
      argv: [...prefix, ...spec.argv],
      logFile,
      ...(spec.env ? { env: spec.env } : {}),
    });
    this.running.push(managed);
    if (spec.netns) await this.awaitExec(managed, spec.argv);
    if (this.persistent) managed.release();
    recordRealNodeProcesses(this.records());
    return managed;
  }

  /** Lets go of every process (they are stopped by records, see teardown.ts). */
  forget(): void {
    for (const managed of this.running) managed.release();
    this.running.length = 0;
  }

  private async awaitExec(managed: ManagedProcess, argv: string[]): Promise<void> {
    await poll(() => sameArgv(readCmdline(managed.record.pid), argv) || undefined, {
      timeoutMs: EXEC_TIMEOUT_MS,
      intervalMs: 10,
      description: `${managed.record.name} to start in its network namespace`,
      abortIf: () => {
        if (managed.exitStatus()) throw new Error(`${managed.record.name} exited:\n${managed.logTail(20)}`);
      },
    });
    managed.record.argv = argv;
  }
}

/** Waits until `check` passes, failing early (with its log) when the process exits. */
export async function waitFor(
  managed: ManagedProcess,
  check: () => Promise<boolean>,
  what: string,
  timeoutMs: number,
): Promise<void> {
  await poll(async () => (await check()) || undefined, {
    timeoutMs,
    intervalMs: 200,
    description: `${managed.record.name}: ${what}`,
    abortIf: () => {
      const status = managed.exitStatus();
      if (!status) return;
      throw new Error(`${managed.record.name} exited (code ${status.code}) before ${what}:\n${managed.logTail(25)}`);
    },
  }).catch((err: Error) => {
    if (err.message.startsWith('timed out')) err.message += `\n${managed.record.logFile}:\n${managed.logTail(25)}`;
    throw err;
  });
}
