// kube-proxy for one real node, in the node's network namespace (iptables mode: its rules and the
// sysctls it sets are the namespace's own). It must start after the kubelet registered the Node:
// it waits for the Node object, silently. The conntrack flags at 0 leave the host-wide conntrack
// table settings alone.
import path from 'node:path';
import type { RealNodePlan } from './plan.ts';
import { waitFor, type RealNodeProcesses } from './processes.ts';
import { httpOkInNetns } from './system.ts';

const READY_TIMEOUT_MS = 30_000;

export interface KubeProxySettings {
  plan: RealNodePlan;
  binary: string;
  kubeconfig: string;
}

/** Starts kube-proxy; resolves once its health endpoint says the rules are in place. */
export async function startKubeProxy(settings: KubeProxySettings, processes: RealNodeProcesses): Promise<void> {
  const { plan } = settings;
  const managed = await processes.launch({
    name: `${plan.cluster}/kube-proxy`,
    argv: [
      settings.binary,
      `--kubeconfig=${settings.kubeconfig}`,
      '--proxy-mode=iptables',
      `--hostname-override=${plan.nodeName}`,
      `--cluster-cidr=${plan.clusterPodCIDR}`,
      '--conntrack-max-per-core=0',
      '--conntrack-tcp-timeout-established=0',
      '--conntrack-tcp-timeout-close-wait=0',
      '--metrics-bind-address=127.0.0.1:10249',
      '--healthz-bind-address=127.0.0.1:10256',
      '--v=1',
    ],
    netns: plan.netns,
    logDir: path.join(plan.dir, 'logs'),
  });
  const healthy = () => httpOkInNetns(plan.netns, 'http://127.0.0.1:10256/healthz');
  await waitFor(managed, healthy, 'healthy', READY_TIMEOUT_MS);
}
