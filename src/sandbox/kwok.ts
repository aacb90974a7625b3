// KWOK in the sandbox: the Stage objects that play kubelet for our fake worker nodes and their
// pods, the Node objects themselves, and the kwok process of each cluster (flags, start, health,
// registering the nodes and waiting until they are usable).
//
// Since kwok v0.6 the standalone `kwok` binary has NO built-in stages: without Stage objects
// (from --config or the Stage CRD) it exits with "no stages found" (kwokctl is what injects
// its defaults). So we always write our own stages into <cluster>/kwok.yaml.
//
// Status templates are rendered into a strategic-merge patch of .status, so anything a stage
// does not mention (addresses, capacity, nodeInfo we set at creation) is kept.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { AdminApi } from './apiserver.ts';
import type { ClusterProcesses } from './cluster-processes.ts';
import { isHealthy } from './util.ts';

/** Label every fake worker carries; kwok manages exactly the nodes matching MANAGED_NODE_SELECTOR. */
export const KWOK_NODE_LABEL = { key: 'type', value: 'kwok' } as const;
/** Virtual nodes (Liqo convention) must never be managed by kwok, whatever other labels they copy. */
export const VIRTUAL_NODE_LABEL = { key: 'liqo.io/type', value: 'virtual-node' } as const;
export const MANAGED_NODE_SELECTOR = `${KWOK_NODE_LABEL.key}=${KWOK_NODE_LABEL.value},${VIRTUAL_NODE_LABEL.key}!=${VIRTUAL_NODE_LABEL.value}`;
/** Annotation kwok's docs put on fake nodes (informational; management is by label selector). */
export const KWOK_NODE_ANNOTATION = { key: 'kwok.x-k8s.io/node', value: 'fake' } as const;
/** Node lease duration kwok renews (like kubelet's 40s default); the controller-manager's node
 * lifecycle controller uses lease renewals as the heartbeat. */
export const NODE_LEASE_SECONDS = 40;

export interface NodeSpec {
  name: string;
  /** InternalIP address of the node (also the hostIP of its pods). */
  ip: string;
  /** Per-node pod CIDR inside the cluster's pod CIDR (kwok allocates pod IPs from it). */
  podCIDR: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  capacity?: { cpu: string; memory: string; pods: string; 'ephemeral-storage'?: string };
}

export const DEFAULT_NODE_CAPACITY = { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' };

/**
 * Where the apiserver finds a fake worker's kubelet API: kwok's server on 127.0.0.1, named by
 * an InternalDNS address (the apiservers prefer it, see KUBELET_PREFERRED_ADDRESS_TYPES), so
 * the InternalIP stays the node's made-up address and its pods' hostIP.
 */
export const KUBELET_HOST = 'localhost';

/** The Node object we POST for a fake worker (status included: the apiserver keeps it on create). */
export function nodeManifest(node: NodeSpec, kubeletVersion: string, kubeletPort: number): Record<string, unknown> {
  const capacity = { ...DEFAULT_NODE_CAPACITY, ...node.capacity };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      labels: {
        [KWOK_NODE_LABEL.key]: KWOK_NODE_LABEL.value,
        'kubernetes.io/hostname': node.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        ...node.labels,
      },
      annotations: {
        [KWOK_NODE_ANNOTATION.key]: KWOK_NODE_ANNOTATION.value,
        'node.alpha.kubernetes.io/ttl': '0',
        ...node.annotations,
      },
    },
    spec: { podCIDR: node.podCIDR, podCIDRs: [node.podCIDR] },
    status: {
      capacity,
      allocatable: capacity,
      addresses: [
        { type: 'InternalIP', address: node.ip },
        { type: 'InternalDNS', address: KUBELET_HOST },
        { type: 'Hostname', address: node.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: kubeletPort } },
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        osImage: 'kwok',
        kernelVersion: 'kwok',
        containerRuntimeVersion: 'kwok://fake',
        kubeletVersion,
        kubeProxyVersion: kubeletVersion,
        machineID: '',
        systemUUID: '',
        bootID: '',
      },
    },
  };
}

// --- stages -------------------------------------------------------------------------------

interface Stage {
  name: string;
  kind: 'Node' | 'Pod';
  expressions: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
  delayMs?: { duration: number; jitter: number };
  statusTemplate?: string;
  delete?: boolean;
}

const READY_STATUS = '.status.conditions.[] | select( .type == "Ready" ) | .status';

const NODE_CONDITIONS_TEMPLATE = `{{ $now := Now }}
conditions:
{{ range NodeConditions }}
- type: {{ .type | Quote }}
  status: {{ .status | Quote }}
  reason: {{ .reason | Quote }}
  message: {{ .message | Quote }}
  lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
`;

// Pieces of the pod status templates below: whole lines without the last newline, so that a
// template places each on lines of its own.

/** A pod condition that changed now; `type` may be a template expression. */
function podCondition(type: string, status: 'True' | 'False', reason?: string): string {
  return [
    `- type: ${type}`,
    `  status: "${status}"`,
    ...(reason ? [`  reason: ${reason}`] : []),
    '  lastTransitionTime: {{ $now | Quote }}',
  ].join('\n');
}

/** A container status' state: running since now. */
const RUNNING_STATE = `  state:
    running:
      startedAt: {{ $now | Quote }}`;

/** A container status' state: ran to completion now. */
const COMPLETED_STATE = `  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}`;

/** hostIP/hostIPs or podIP/podIPs from the addresses a kwok template function returns, if any. */
function ipFields(field: 'host' | 'pod', addresses: string): string {
  return `{{ with ${addresses} }}
${field}IP: {{ index . 0 | Quote }}
${field}IPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}`;
}

const STAGES: Stage[] = [
  {
    // A new (or not-ready) node becomes Ready. Addresses only if the node came without any.
    name: 'sandbox-node-ready',
    kind: 'Node',
    expressions: [{ key: READY_STATUS, operator: 'NotIn', values: ['True'] }],
    statusTemplate: `${NODE_CONDITIONS_TEMPLATE}{{ if not .status.addresses }}
addresses:
- type: InternalIP
  address: {{ NodeIP | Quote }}
- type: Hostname
  address: {{ .metadata.name | Quote }}
{{ end }}
{{ if not .status.capacity }}
capacity:
  cpu: "8"
  memory: 32Gi
  pods: "110"
allocatable:
  cpu: "8"
  memory: 32Gi
  pods: "110"
{{ end }}
phase: Running
`,
  },
  {
    // Occasional status heartbeat, like kubelet's nodeStatusReportFrequency (the node Lease,
    // renewed by kwok every lease/4, is the real liveness signal).
    name: 'sandbox-node-heartbeat',
    kind: 'Node',
    expressions: [
      { key: '.status.phase', operator: 'In', values: ['Running'] },
      { key: READY_STATUS, operator: 'In', values: ['True'] },
    ],
    delayMs: { duration: 240_000, jitter: 300_000 },
    statusTemplate: NODE_CONDITIONS_TEMPLATE,
  },
  {
    // A scheduled pod starts: IPs from the node's pod CIDR, every container running.
    name: 'sandbox-pod-ready',
    kind: 'Pod',
    expressions: [
      { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
      { key: '.status.phase', operator: 'In', values: ['Pending'] },
      { key: READY_STATUS, operator: 'NotIn', values: ['True'] },
    ],
    statusTemplate: `{{ $now := Now }}
conditions:
${podCondition('PodReadyToStartContainers', 'True')}
${podCondition('Initialized', 'True')}
${podCondition('ContainersReady', 'True')}
${podCondition('Ready', 'True')}
{{ range .spec.readinessGates }}
${podCondition('{{ .conditionType | Quote }}', 'True')}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: {{ printf "kwok://%s" .image | Quote }}
  containerID: {{ printf "kwok://%s" .name | Quote }}
  ready: true
  started: true
  restartCount: 0
${RUNNING_STATE}
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  restartCount: 0
  {{ if eq (or .restartPolicy "") "Always" }}
  started: true
${RUNNING_STATE}
  {{ else }}
${COMPLETED_STATE}
  {{ end }}
{{ end }}
${ipFields('host', 'NodeIPsWith .spec.nodeName')}
${ipFields('pod', 'PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" )')}
phase: Running
startTime: {{ $now | Quote }}
`,
  },
  {
    // Job pods finish right after they start, so Jobs complete.
    name: 'sandbox-pod-complete',
    kind: 'Pod',
    expressions: [
      { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
      { key: '.status.phase', operator: 'In', values: ['Running'] },
      { key: '.metadata.ownerReferences.[].kind', operator: 'In', values: ['Job'] },
    ],
    statusTemplate: `{{ $now := Now }}
conditions:
${podCondition('Ready', 'False', 'PodCompleted')}
${podCondition('ContainersReady', 'False', 'PodCompleted')}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: false
  started: false
  restartCount: 0
${COMPLETED_STATE}
{{ end }}
phase: Succeeded
`,
  },
  {
    // Graceful deletion: the "kubelet" confirms at once (finalizers, if any, still hold it).
    name: 'sandbox-pod-delete',
    kind: 'Pod',
    expressions: [{ key: '.metadata.deletionTimestamp', operator: 'Exists' }],
    delete: true,
  },
];

function stageObject(s: Stage): Record<string, unknown> {
  return {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Stage',
    metadata: { name: s.name },
    spec: {
      resourceRef: { apiGroup: 'v1', kind: s.kind },
      selector: { matchExpressions: s.expressions },
      ...(s.delayMs
        ? { delay: { durationMilliseconds: s.delayMs.duration, jitterDurationMilliseconds: s.delayMs.jitter } }
        : {}),
      next: s.delete ? { delete: true } : { statusTemplate: s.statusTemplate },
    },
  };
}

/**
 * The multi-document YAML for `kwok --config`: our Stage objects and `extra` (the kubelet API's
 * objects, kwok-kubelet-api.ts). No KwokConfiguration document on purpose: kwok applies its
 * defaults only when the config has none (a KwokConfiguration with `options: {}` leaves e.g.
 * nodeLeaseParallelism at 0 and kwok exits with "node leases parallelism must be greater than
 * 0"); every option goes in as a flag.
 */
export function kwokConfigYaml(extra: Record<string, unknown>[] = []): string {
  const docs: Record<string, unknown>[] = [...STAGES.map(stageObject), ...extra];
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}

export interface KwokSettings {
  binDir: string;
  /** The cluster directory: kwok.yaml and kwok's own HOME go there. */
  dir: string;
  kubeconfig: string;
  /** kwok hands out pod IPs from it. */
  podCIDR: string;
  /** The node IP kwok reports where a node has none of its own. */
  nodeIP: string;
  /** Port of kwok's server: /healthz and the fake workers' kubelet API. */
  port: number;
  /** More --config objects: what the kubelet API answers (kwok-kubelet-api.ts). */
  kubeletApiObjects: Record<string, unknown>[];
  /** Kinds kwok reads from the API instead (their CRDs must be installed first). */
  crdKinds: string[];
  /** Added to kwok's environment (the PATH its exec looks commands up in). */
  env: Record<string, string>;
}

export function kwokArgv(settings: KwokSettings, configFile: string): string[] {
  return [
    path.join(settings.binDir, 'kwok'),
    `--config=${configFile}`,
    `--kubeconfig=${settings.kubeconfig}`,
    '--manage-all-nodes=false',
    `--manage-nodes-with-label-selector=${MANAGED_NODE_SELECTOR}`,
    `--cidr=${settings.podCIDR}`,
    `--node-ip=${settings.nodeIP}`,
    `--node-lease-duration-seconds=${NODE_LEASE_SECONDS}`,
    `--server-address=127.0.0.1:${settings.port}`,
    ...(settings.crdKinds.length ? [`--enable-crds=${settings.crdKinds.join(',')}`] : []),
  ];
}

/** Writes kwok.yaml and spawns kwok without waiting for it (waitKwokHealthy does). */
export async function launchKwok(processes: ClusterProcesses, settings: KwokSettings): Promise<void> {
  const configFile = path.join(settings.dir, 'kwok.yaml');
  fs.writeFileSync(configFile, kwokConfigYaml(settings.kubeletApiObjects));
  // kwok always reads ~/.kwok/kwok.yaml when it exists: give it an empty HOME of its own.
  const kwokHome = path.join(settings.dir, 'kwok-home');
  fs.mkdirSync(kwokHome, { recursive: true });
  await processes.launch('kwok', kwokArgv(settings, configFile), { ...settings.env, HOME: kwokHome });
}

export async function waitKwokHealthy(processes: ClusterProcesses, port: number): Promise<void> {
  await processes.waitReady('kwok', () => isHealthy(`http://127.0.0.1:${port}/healthz`), '/healthz ok');
}

/**
 * Creates the Node objects (an existing one is fine). Their status (addresses, kubelet port,
 * capacity, nodeInfo) is kept on create; the kubelet version is the apiserver's, as on a real
 * cluster; the kubelet port is kwok's.
 */
export async function registerNodes(
  api: AdminApi,
  nodes: NodeSpec[],
  cluster: { name: string; kubeletPort: number },
): Promise<void> {
  const version = await api('GET', '/version');
  const kubeletVersion = String(version.body?.gitVersion ?? 'v0.0.0');
  await Promise.all(
    nodes.map(async (node) => {
      const res = await api('POST', '/api/v1/nodes', nodeManifest(node, kubeletVersion, cluster.kubeletPort));
      if (res.status !== 201 && res.status !== 409) {
        throw new Error(`${cluster.name}: creating node ${node.name}: HTTP ${res.status}: ${JSON.stringify(res.body)}`);
      }
    }),
  );
}

/** The fields of a Node that tell whether pods can go there. */
interface NodeObject {
  metadata?: { name?: string };
  spec?: { taints?: { key?: string }[] };
  status?: { conditions?: { type?: string; status?: string }[] };
}

/**
 * Usable: Ready (kwok renews its lease and status) and schedulable, i.e. the node lifecycle
 * controller has removed its node.kubernetes.io/ taints (not-ready, unreachable).
 */
function nodeIsUsable(node: NodeObject | undefined): boolean {
  const ready = node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  const tainted = (node?.spec?.taints ?? []).some((taint) => String(taint.key).startsWith('node.kubernetes.io/'));
  return !!ready && !tainted;
}

/** Waits until every named node is usable (failing fast if kwok, which makes them Ready, exits). */
export async function waitNodesUsable(processes: ClusterProcesses, api: AdminApi, nodeNames: string[]): Promise<void> {
  const allUsable = async () => {
    const res = await api('GET', '/api/v1/nodes');
    if (res.status !== 200) return false;
    const items = (res.body.items ?? []) as NodeObject[];
    return nodeNames.every((name) => nodeIsUsable(items.find((item) => item.metadata?.name === name)));
  };
  await processes.waitReady('kwok', allUsable, `nodes ${nodeNames.join(', ')} Ready and untainted`);
}
