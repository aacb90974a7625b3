// A small app for the kubelet API tests and benchmarks: in a namespace that has opted in, a
// Deployment placed Remote (its pod runs on the virtual node, really in the remote cluster's twin
// namespace), a Service in front of it, and a Deployment placed Local (a pod on a local worker).
// The pods declare port 8080, so the remote cluster's pod server answers for them.
import { SANDBOX_CLUSTER_NAME, SANDBOX_VIRTUAL_NODE } from '../../../src/dev/virtual-node.ts';
import type { Cluster } from '../../../src/sandbox/cluster.ts';
import { twinNamespaceName } from '../../../src/common/twin.ts';
import { ENABLED_LABEL, PLACEMENT_ANNOTATION } from '../../../webhooks/keys.ts';
import { applyYaml, getItems, getObject } from './kubectl.ts';
import { waitFor } from './wait.ts';

export const APP_PORT = 8080;
export const APP_CONTAINER = 'app';

export interface OffloadedApp {
  namespace: string;
  /** The namespace of the remote pod. */
  twin: string;
  /** The pod on the virtual node (same name locally and remotely). */
  pod: string;
  /** The Service selecting it (port 80 -> 8080). */
  service: string;
  /** A pod of the same namespace on a local worker. */
  localPod: string;
}

interface PodObject {
  metadata: { name: string; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: { phase?: string; podIP?: string };
}

function deployment(name: string, placement: 'Remote' | 'Local'): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  annotations: { ${PLACEMENT_ANNOTATION}: ${placement} }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: ${APP_CONTAINER}
          image: nginx:1.27
          ports: [{ name: http, containerPort: ${APP_PORT} }]
          resources: { requests: { cpu: 10m, memory: 16Mi } }
`;
}

function service(name: string): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec:
  selector: { app: ${name} }
  ports: [{ name: http, port: 80, targetPort: http }]
`;
}

function runningOn(pods: PodObject[], node?: string): PodObject | undefined {
  const live = pods.filter((pod) => !pod.metadata.deletionTimestamp && pod.status?.phase === 'Running');
  return live.find((pod) => pod.status?.podIP && (node === undefined || pod.spec?.nodeName === node));
}

async function runningPod(cluster: Cluster, namespace: string, app: string, node?: string): Promise<string> {
  const pod = await waitFor(
    async () => runningOn(await getItems<PodObject>(cluster, 'pods', { namespace, selector: `app=${app}` }), node),
    { timeoutMs: 120_000, description: `a Running pod of ${namespace}/${app}${node ? ` on ${node}` : ''}` },
  );
  return pod.metadata.name;
}

/** Deploys the app and waits until both pods run and the remote pod server answers for the offloaded one. */
export async function deployOffloadedApp(local: Cluster, remote: Cluster, namespace: string): Promise<OffloadedApp> {
  await applyYaml(
    local,
    `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n  labels: { ${ENABLED_LABEL}: "true" }\n`,
  );
  await applyYaml(
    local,
    [deployment('web', 'Remote'), service('web'), deployment('local-web', 'Local')].join('---\n'),
    {
      namespace,
    },
  );
  const twin = twinNamespaceName(namespace, SANDBOX_CLUSTER_NAME);
  const pod = await runningPod(local, namespace, 'web', SANDBOX_VIRTUAL_NODE);
  await runningPod(remote, twin, 'web');
  await waitFor(() => getObject(remote, 'portforwards.kwok.x-k8s.io', pod, { namespace: twin }), {
    timeoutMs: 60_000,
    description: `the remote pod server's PortForward for ${twin}/${pod}`,
  });
  const localPod = await runningPod(local, namespace, 'local-web');
  return { namespace, twin, pod, service: 'web', localPod };
}
