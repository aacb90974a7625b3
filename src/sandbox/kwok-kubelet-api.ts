// What the fake workers' kubelet API answers (kwok serves it on its server port): container
// logs, exec, attach, port-forward and resource metrics, so `kubectl logs/exec/attach/
// port-forward/cp` work on every pod of a sandbox cluster, as on a real one.
//
// - logs: one CRI-format file per cluster (<cluster>/containers/current.log) stands for the
//   output of every container; `--previous` reads previous.log. Tests and benchmarks append
//   lines with appendContainerLog(); attach follows the same file.
// - exec: runs the command on this machine, in <cluster>/containers/exec (kubectl cp lands there),
//   with <cluster>/containers/bin first on the PATH: kwok never closes a command's stdin, so its
//   `tar` reads 512-byte records and stops at the archive's end instead of waiting for an EOF
//   that never comes (kubectl cp into a pod runs `tar -xmf -`). For the same reason
//   `kubectl exec -i -- cat` never ends, and kwok reports a non-zero exit as an internal error
//   without the code.
// - port-forward: to the sandbox's pod server (pod-server/), which answers for the pod it
//   stands for. Every pod with declared container ports gets a PortForward object of its own
//   (made by the pod server, hence the PortForward CRD); a ClusterPortForward sends any other
//   pod and port to the pod server's shared listener.
// - metrics: /metrics/nodes/<node>/metrics/resource with usages of 1m CPU and 1Mi per container.
import fs from 'node:fs';
import path from 'node:path';

export interface ContainerFiles {
  /** The directory of the files below. */
  dir: string;
  /** CRI-format log every container of the cluster shows (`kubectl logs`, attach). */
  logFile: string;
  /** What `kubectl logs --previous` shows. */
  previousLogFile: string;
  /** Where `kubectl exec` runs its commands (and where `kubectl cp` reads and writes). */
  execDir: string;
  /** First on the PATH of those commands: the tools adapted to kwok's exec. */
  binDir: string;
}

export function containerFiles(clusterDir: string): ContainerFiles {
  const dir = path.join(clusterDir, 'containers');
  return {
    dir,
    logFile: path.join(dir, 'current.log'),
    previousLogFile: path.join(dir, 'previous.log'),
    execDir: path.join(dir, 'exec'),
    binDir: path.join(dir, 'bin'),
  };
}

/** One line of a CRI container log: `<RFC 3339 time> <stream> F <text>`. */
export function criLogLine(text: string, stream: 'stdout' | 'stderr' = 'stdout', at = new Date()): string {
  return `${at.toISOString()} ${stream} F ${text}\n`;
}

/** Appends lines to the log every container of the cluster shows (one write, so no torn lines). */
export function appendContainerLog(
  files: ContainerFiles,
  lines: string[],
  stream: 'stdout' | 'stderr' = 'stdout',
): void {
  fs.appendFileSync(files.logFile, lines.map((line) => criLogLine(line, stream)).join(''));
}

/** The system's tar, so that the tar of the containers' PATH can call it. */
function systemTar(): string {
  const dirs = (process.env.PATH ?? '/usr/bin:/bin').split(path.delimiter);
  const found = dirs.map((dir) => path.join(dir, 'tar')).find((file) => fs.existsSync(file));
  return found ?? '/usr/bin/tar';
}

function writeTarShim(binDir: string): void {
  const shim = [
    '#!/bin/sh',
    '# 512-byte records: stop at the end of the archive, whether or not stdin ends.',
    `exec ${systemTar()} "$@" -b1`,
  ];
  fs.writeFileSync(path.join(binDir, 'tar'), `${shim.join('\n')}\n`, { mode: 0o755 });
}

/** Creates the directories, both logs (with a first line each) and the containers' tools. */
export function prepareContainerFiles(files: ContainerFiles, clusterName: string): void {
  fs.mkdirSync(files.execDir, { recursive: true });
  fs.mkdirSync(files.binDir, { recursive: true });
  writeTarShim(files.binDir);
  fs.writeFileSync(files.logFile, criLogLine(`${clusterName}: container started (a kwok container: no process runs)`));
  fs.writeFileSync(files.previousLogFile, criLogLine(`${clusterName}: previous instance of the container`));
}

const KWOK_API_VERSION = 'kwok.x-k8s.io/v1alpha1';

function kwokObject(kind: string, name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: KWOK_API_VERSION, kind, metadata: { name }, spec };
}

/** A Prometheus series of the resource metrics endpoint (what metrics-server reads). */
function metric(name: string, kind: 'counter' | 'gauge', dimension: 'node' | 'container', value: string) {
  const labels =
    dimension === 'container'
      ? [
          { name: 'container', value: 'container.name' },
          { name: 'namespace', value: 'pod.metadata.namespace' },
          { name: 'pod', value: 'pod.metadata.name' },
        ]
      : [];
  return { name, kind, dimension, help: name, labels, value };
}

const RESOURCE_METRICS_PATH = '/metrics/nodes/{nodeName}/metrics/resource';

function metricsObjects(): Record<string, unknown>[] {
  const usage = {
    usages: [{ usage: { cpu: { value: '1m' }, memory: { value: '1Mi' } } }],
  };
  const metrics = [
    metric('node_cpu_usage_seconds_total', 'counter', 'node', 'node.CumulativeUsage("cpu")'),
    metric('node_memory_working_set_bytes', 'gauge', 'node', 'node.Usage("memory")'),
    metric('container_cpu_usage_seconds_total', 'counter', 'container', 'pod.CumulativeUsage("cpu", container.name)'),
    metric('container_memory_working_set_bytes', 'gauge', 'container', 'pod.Usage("memory", container.name)'),
  ];
  return [
    kwokObject('ClusterResourceUsage', 'sandbox-usage', usage),
    kwokObject('Metric', 'sandbox-metrics-resource', { path: RESOURCE_METRICS_PATH, metrics }),
  ];
}

/** The path of a fake worker's resource metrics on its kwok (through the apiserver's node proxy). */
export function resourceMetricsPath(nodeName: string): string {
  return RESOURCE_METRICS_PATH.replace('{nodeName}', nodeName);
}

/**
 * The PATH of the containers' commands. kwok must run with it too: it looks a command up in its
 * own PATH before it starts it with the one above.
 */
export function containersPath(files: ContainerFiles): string {
  return [files.binDir, process.env.PATH ?? '/usr/bin:/bin'].join(path.delimiter);
}

/** The cluster-wide kwok objects (for kwok --config) that make the kubelet API answer. */
export function kubeletApiObjects(files: ContainerFiles, podServerPort: number): Record<string, unknown>[] {
  const logs = [{ logsFile: files.logFile, previousLogsFile: files.previousLogFile, follow: true }];
  const envs = [
    { name: 'HOME', value: files.execDir },
    { name: 'PATH', value: containersPath(files) },
  ];
  const execs = [{ local: { workDir: files.execDir, envs } }];
  const forwards = [{ target: { address: '127.0.0.1', port: podServerPort } }];
  return [
    kwokObject('ClusterLogs', 'sandbox-logs', { logs }),
    kwokObject('ClusterAttach', 'sandbox-attach', { attaches: [{ logsFile: files.logFile }] }),
    kwokObject('ClusterExec', 'sandbox-exec', { execs }),
    kwokObject('ClusterPortForward', 'sandbox-port-forward', { forwards }),
    ...metricsObjects(),
  ];
}

/** Kinds kwok reads from the API (CRDs) rather than from its --config: per-pod PortForwards. */
export const KWOK_CRD_KINDS = ['PortForward'];

/**
 * The PortForward CRD, as far as kwok and the pod server need it: the schema is left open
 * (kwok's own CRD validates more; the pod server is the only writer).
 */
export function portForwardCrd(): Record<string, unknown> {
  const openObject = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'portforwards.kwok.x-k8s.io' },
    spec: {
      group: 'kwok.x-k8s.io',
      names: { kind: 'PortForward', listKind: 'PortForwardList', plural: 'portforwards', singular: 'portforward' },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', properties: { spec: openObject, status: openObject } } },
          subresources: { status: {} },
        },
      ],
    },
  };
}
