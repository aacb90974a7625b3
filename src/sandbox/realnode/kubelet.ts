// The kubelet of one real node, in the node's network namespace. Its KubeletConfiguration is
// what this host needs next to other kubelets:
//   - failCgroupV1: false and cgroupDriver: cgroupfs: the host is cgroup v1 (plus a cgroup2
//     mount), and containerd 1.6 cannot tell the kubelet its driver;
//   - a cgroupRoot, root dir, pod log dir and volume plugin dir of its own;
//   - oomScoreAdj: 0, since lowering it needs CAP_SYS_RESOURCE, which this host does not grant;
//   - protectKernelDefaults: false, so it sets vm.overcommit_memory, kernel.panic and
//     kernel.panic_on_oops host-wide (saved before and restored by `sandbox down`, host-state.ts)
//     instead of refusing to start;
//   - clusterDNS: the kube-dns Service, and an empty resolv.conf: pods resolve cluster names only.
// The apiserver reaches it on the node IP (port 10250) with its kubelet client certificate, which
// the kubelet checks against the cluster CA and authorizes with SubjectAccessReviews.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { AdminApi } from '../apiserver.ts';
import { containerdSocket } from './containerd.ts';
import type { RealNodePlan } from './plan.ts';
import { waitFor, type RealNodeProcesses } from './processes.ts';

const READY_TIMEOUT_MS = 90_000;

function kubeletConfiguration(plan: RealNodePlan, caFile: string): Record<string, unknown> {
  const socket = `unix://${containerdSocket(plan)}`;
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: plan.cgroupRoot,
    cgroupsPerQOS: true,
    oomScoreAdj: 0,
    protectKernelDefaults: false,
    failSwapOn: false,
    containerRuntimeEndpoint: socket,
    imageServiceEndpoint: socket,
    podLogsDir: path.join(plan.dir, 'pod-logs'),
    volumePluginDir: path.join(plan.dir, 'kubelet/volume-plugins'),
    address: '0.0.0.0',
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: caFile } },
    authorization: { mode: 'Webhook' },
    clusterDNS: [plan.dnsServiceIP],
    clusterDomain: 'cluster.local',
    resolvConf: path.join(plan.dir, 'resolv.conf'),
    // Quick status and ConfigMap/Secret propagation: a sandbox is for watching things happen.
    syncFrequency: '10s',
    nodeStatusUpdateFrequency: '5s',
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '5%', 'imagefs.available': '5%' },
    imageGCHighThresholdPercent: 95,
    imageGCLowThresholdPercent: 90,
    serializeImagePulls: false,
  };
}

function nodeLabels(plan: RealNodePlan): string {
  return Object.entries(plan.labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

async function nodeReady(api: AdminApi, nodeName: string): Promise<boolean> {
  const res = await api('GET', `/api/v1/nodes/${nodeName}`);
  const conditions = (res.body?.status?.conditions ?? []) as { type: string; status: string }[];
  return (
    res.status === 200 && conditions.some((condition) => condition.type === 'Ready' && condition.status === 'True')
  );
}

export interface KubeletSettings {
  plan: RealNodePlan;
  binary: string;
  kubeconfig: string;
  caFile: string;
  api: AdminApi;
}

/** Starts the kubelet; resolves once its Node is Ready. */
export async function startKubelet(settings: KubeletSettings, processes: RealNodeProcesses): Promise<void> {
  const { plan } = settings;
  const configFile = path.join(plan.dir, 'kubelet-config.yaml');
  fs.mkdirSync(path.join(plan.dir, 'kubelet'), { recursive: true });
  fs.writeFileSync(path.join(plan.dir, 'resolv.conf'), '# cluster names only: pods get the kube-dns Service\n');
  fs.writeFileSync(configFile, stringify(kubeletConfiguration(plan, settings.caFile)));
  const managed = await processes.launch({
    name: `${plan.cluster}/kubelet`,
    argv: [
      settings.binary,
      `--config=${configFile}`,
      `--kubeconfig=${settings.kubeconfig}`,
      `--root-dir=${path.join(plan.dir, 'kubelet')}`,
      `--cert-dir=${path.join(plan.dir, 'kubelet/pki')}`,
      `--hostname-override=${plan.nodeName}`,
      `--node-ip=${plan.nodeIP}`,
      `--node-labels=${nodeLabels(plan)}`,
      '--v=1',
    ],
    netns: plan.netns,
    logDir: path.join(plan.dir, 'logs'),
  });
  await waitFor(managed, () => nodeReady(settings.api, plan.nodeName), `node ${plan.nodeName} Ready`, READY_TIMEOUT_MS);
}
