// A long-running kube-offload command (syncer, virtual-node) started by a test as a process of
// its own, as in a pod: output appended to a log file, state read from its metrics port.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../../..');

export interface ComponentProcessOptions {
  /** The kube-offload command, e.g. 'syncer' or 'virtual-node'. */
  command: string;
  /** Passed as --metrics-port; /metrics and /readyz are read there. */
  port: number;
  /** stdout and stderr of every start() are appended to it. */
  logFile: string;
  /** Passed as --metrics-host (for commands that take it). */
  metricsHost?: string;
  /** Added to the environment, e.g. { POD_IP: '' } so that a default does not depend on the machine. */
  env?: Record<string, string>;
}

export class ComponentProcess {
  readonly port: number;
  readonly logFile: string;
  child: ChildProcess | undefined;
  readonly #options: ComponentProcessOptions;
  #exited: Promise<number | null> | undefined;

  constructor(options: ComponentProcessOptions) {
    this.port = options.port;
    this.logFile = options.logFile;
    this.#options = options;
  }

  start(args: string[]): void {
    const { command, metricsHost, env } = this.#options;
    const out = fs.openSync(this.logFile, 'a');
    const child = spawn(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        path.join(ROOT, 'src/cli.ts'),
        command,
        ...args,
        '--metrics-port',
        String(this.port),
        ...(metricsHost === undefined ? [] : ['--metrics-host', metricsHost]),
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', out, out],
        // No default kubeconfig to fall back on: the process reaches only the clusters its flags name.
        env: { ...process.env, KUBECONFIG: '/nonexistent', ...env },
      },
    );
    fs.closeSync(out);
    this.child = child;
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.child || !this.running()) return;
    this.child.kill(signal);
    await this.#exited;
  }

  async metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.port}/metrics`, { signal: AbortSignal.timeout(5000) });
    return res.text();
  }

  async ready(): Promise<boolean> {
    try {
      return (
        (await fetch(`http://127.0.0.1:${this.port}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200
      );
    } catch {
      return false;
    }
  }

  /** Sum of a metric's samples whose labels include `labels`. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await this.metrics();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
      if (!m || m[1] !== name) continue;
      const have: Record<string, string> = {};
      for (const kv of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[kv[1]!] = kv[2]!;
      if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[4]);
    }
    return sum;
  }
}
