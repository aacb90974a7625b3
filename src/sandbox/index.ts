// Public API of the sandbox: real control planes (etcd, kube-apiserver, controller-manager,
// scheduler) with kwok-faked workers, for tests, the demo and `kube-offload sandbox`.
export {
  startCluster,
  runKubectl,
  clearStaleDir,
  reapOrphans,
  PRESETS,
  DEFAULT_AUDIT_POLICY,
  TMP_ROOT,
} from './cluster.ts';
export type {
  Cluster,
  ClusterOptions,
  ClusterPorts,
  AuditOptions,
  KubectlOptions,
  KubectlResult,
  ApiResult,
  NodeSpec,
} from './cluster.ts';
export { appendContainerLog, criLogLine, resourceMetricsPath } from './cluster.ts';
export type { ContainerFiles } from './cluster.ts';
export {
  startSandbox,
  stopSandboxDir,
  sandboxStatus,
  readState,
  recordedProcesses,
  STATE_FILE,
  SANDBOX_MARKER,
  SECOND_REMOTE,
} from './sandbox.ts';
export type {
  Sandbox,
  SandboxOptions,
  SandboxState,
  ClusterState,
  RunningComponent,
  ProcessStatus,
} from './sandbox.ts';
export { cliArgv } from './components.ts';
export type { ComponentSpec, ReadyCheck, UrlReadyCheck, FnReadyCheck, SandboxContext } from './components.ts';
export { ensureBinaries, expectedBinDir, missingBinaries, repoRoot, REQUIRED_BINARIES } from './binaries.ts';
export { isOurs, isAlive, terminateRecord } from './procs.ts';
export type { ProcessRecord } from './procs.ts';
export { KWOK_NODE_LABEL, VIRTUAL_NODE_LABEL, MANAGED_NODE_SELECTOR, KWOK_NODE_ANNOTATION } from './kwok.ts';
