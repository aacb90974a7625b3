// The processes a sandbox hosts besides its control planes, as the harness sees them.
//
// A component is a name + argv + env + a readiness check + a log file. startSandbox() starts
// the list its caller passes, in order, each (with startComponent below) after the previous one
// is ready; the harness knows nothing of what they are (src/dev/components.ts assembles
// kube-offload's own). `before`/`after` hooks run around the process start (e.g. register
// webhook configurations pointing at https://127.0.0.1:PORT once the webhook answers).
import fs from 'node:fs';
import path from 'node:path';
import { poll } from '../common/async.ts';
import type { Cluster } from './cluster.ts';
import { repoRoot } from './binaries.ts';
import { spawnManaged, type ManagedProcess, type ProcessRecord } from './procs.ts';
import { freePort, isHealthy } from './util.ts';

/** Serializable readiness check (stored in .sandbox/state.json so `sandbox status` can probe it). */
export interface UrlReadyCheck {
  /** 200 means ready. http:// or https:// */
  url: string;
  /** Skip TLS verification (self-signed serving certs). */
  insecure?: boolean;
  /** CA bundle file to verify the serving cert with. */
  caFile?: string;
}

export interface FnReadyCheck {
  check: () => Promise<boolean>;
}

export type ReadyCheck = UrlReadyCheck | FnReadyCheck;

export interface SandboxContext {
  /** The sandbox directory (e.g. <cwd>/.sandbox). */
  dir: string;
  /** Per-component scratch space: <dir>/components/<name>/ is created for each component. */
  componentsDir: string;
  repoRoot: string;
  local: Cluster;
  /** The first remote (remotes[0]). */
  remote: Cluster;
  /** Every remote cluster, "remote" first. */
  remotes: Cluster[];
  /** Absolute path of the node binary running us (node 24: runs .ts directly). */
  nodeBin: string;
  /** Absolute path of bin/kube-offload.js */
  cli: string;
  freePort: () => Promise<number>;
}

export interface ComponentSpec {
  name: string;
  /** argv[0] must be an absolute path (use ctx.nodeBin + ctx.cli for our own commands). */
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  ready?: ReadyCheck;
  /** Default 60 s. */
  readyTimeoutMs?: number;
  /** Default <dir>/components/<name>.log */
  logFile?: string;
  /** Runs before the process is spawned. */
  before?: (ctx: SandboxContext) => Promise<void>;
  /** Runs once the process is ready (e.g. register webhook configurations pointing at it). */
  after?: (ctx: SandboxContext) => Promise<void>;
}

/**
 * argv for one of our own CLI commands: `node bin/kube-offload.js <command> ...args`. With
 * KUBE_OFFLOAD_CPU_PROFILE_DIR=D in the environment, each such process writes a V8 CPU profile
 * into D when it exits (open it in Chrome DevTools): how the benchmarks find where a
 * component's CPU goes. A flag, not NODE_OPTIONS, which components may set for themselves.
 */
export function cliArgv(ctx: SandboxContext, command: string, ...args: string[]): string[] {
  const profileDir = process.env.KUBE_OFFLOAD_CPU_PROFILE_DIR;
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : [];
  return [ctx.nodeBin, ...profile, ctx.cli, command, ...args];
}

export async function makeContext(dir: string, local: Cluster, remotes: Cluster[]): Promise<SandboxContext> {
  const root = repoRoot();
  return {
    dir,
    componentsDir: path.join(dir, 'components'),
    repoRoot: root,
    local,
    remote: remotes[0]!,
    remotes,
    nodeBin: process.execPath,
    cli: path.join(root, 'bin', 'kube-offload.js'),
    freePort,
  };
}

export interface RunningComponent {
  name: string;
  record: ProcessRecord;
  ready?: UrlReadyCheck;
  logFile: string;
  running(): boolean;
  stop(): Promise<void>;
}

/** What starting a component needs from the sandbox hosting it. */
export interface ComponentHost {
  context: SandboxContext;
  /** Let the process outlive this Node process (`sandbox up`). */
  persistent: boolean;
  log: (line: string) => void;
  /** Called once the process is spawned (before it is ready), so the state file records it at once. */
  onStarted: (component: RunningComponent) => void;
  /** Called once it has stopped. */
  onStopped: () => void;
}

/** True when the URL answers 200 (its serving certificate verified against caFile when given). */
export async function probeUrl(ready: UrlReadyCheck): Promise<boolean> {
  let ca: string | undefined;
  if (ready.caFile) {
    try {
      ca = fs.readFileSync(ready.caFile, 'utf8');
    } catch {
      return false;
    }
  }
  return isHealthy(ready.url, { ...(ca ? { ca } : {}), ...(ready.insecure ? { insecure: true } : {}) });
}

/** Waits for the readiness check, failing fast (with the log tail) if the process exits first. */
async function waitComponentReady(spec: ComponentSpec, ready: ReadyCheck, managed: ManagedProcess): Promise<void> {
  const check = 'check' in ready ? ready.check : () => probeUrl(ready);
  await poll(async () => (await check()) || undefined, {
    timeoutMs: spec.readyTimeoutMs ?? 60_000,
    intervalMs: 200,
    description: `component ${spec.name} to be ready`,
    abortIf: () => {
      const status = managed.exitStatus();
      if (!status) return;
      throw new Error(
        `component ${spec.name} exited (code ${status.code}, signal ${status.signal}); ` +
          `${managed.record.logFile}:\n${managed.logTail(25)}`,
      );
    },
  });
}

/** Runs `before`, spawns the process, waits until it is ready, runs `after`. */
export async function startComponent(spec: ComponentSpec, host: ComponentHost): Promise<RunningComponent> {
  const { context } = host;
  fs.mkdirSync(path.join(context.componentsDir, spec.name), { recursive: true });
  await spec.before?.(context);
  const logFile = spec.logFile ?? path.join(context.componentsDir, `${spec.name}.log`);
  const managed = await spawnManaged({
    name: spec.name,
    argv: spec.argv,
    logFile,
    cwd: spec.cwd ?? context.repoRoot,
    ...(spec.env ? { env: spec.env } : {}),
  });
  const component: RunningComponent = {
    name: spec.name,
    record: managed.record,
    // Only a URL check can be written to the state file (for `sandbox status`); a function cannot.
    ...(spec.ready && 'url' in spec.ready ? { ready: spec.ready } : {}),
    logFile,
    running: () => !managed.exitStatus(),
    async stop() {
      await managed.stop();
      host.onStopped();
    },
  };
  host.onStarted(component);
  if (spec.ready) await waitComponentReady(spec, spec.ready, managed);
  await spec.after?.(context);
  if (host.persistent) managed.release();
  host.log(`component ${spec.name} ready (pid ${managed.record.pid})`);
  return component;
}
