// The realistic pod every admission row uses: a pod of a micro-service Deployment (the
// "checkout" service of a shop), as the ReplicaSet controller creates it — several env vars,
// three probes, resources, volumes, labels, annotations (the Deployment's placement policy,
// copied into the template by the workload webhook) and an ownerReference. About 3 KB of JSON.
import { CLUSTERS_ANNOTATION, PLACEMENT_ANNOTATION, PREFER_ANNOTATION } from '../../webhooks/keys.ts';

export interface PodOptions {
  name?: string;
  namespace?: string;
  /** The ReplicaSet's ownerReference (dropped for pods created directly, see apiserver.ts). */
  owner?: boolean;
  /** Defaults the apiserver fills in before mutating admission (set for the review body). */
  defaults?: boolean;
  /** spec.schedulerName; the apiserver rows use one no scheduler serves (see apiserver.ts). */
  schedulerName?: string;
}

const env = (name: string, value: string) => ({ name, value });

function container(defaults: boolean): Record<string, any> {
  const probe = (path: string, extra: Record<string, number>) => ({
    httpGet: { path, port: 'http', scheme: 'HTTP' },
    ...extra,
    ...(defaults ? { timeoutSeconds: 1, successThreshold: 1 } : {}),
  });
  const container: Record<string, any> = {
    name: 'checkout',
    image: 'registry.example.com/shop/checkout:1.14.2',
    args: ['--listen=:8080', '--metrics=:9090', '--log-format=json'],
    ports: [
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
    ],
    env: [
      env('PORT', '8080'),
      env('CART_SERVICE_ADDR', 'cart.shop.svc.cluster.local:7070'),
      env('PAYMENT_SERVICE_ADDR', 'payment.shop.svc.cluster.local:50051'),
      env('SHIPPING_SERVICE_ADDR', 'shipping.shop.svc.cluster.local:50051'),
      env('CURRENCY_SERVICE_ADDR', 'currency.shop.svc.cluster.local:7000'),
      env('EMAIL_SERVICE_ADDR', 'email.shop.svc.cluster.local:5000'),
      env('OTEL_EXPORTER_OTLP_ENDPOINT', 'http://otel-collector.observability:4317'),
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'checkout-db', key: 'password' } } },
    ],
    envFrom: [{ configMapRef: { name: 'checkout-config' } }],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
    livenessProbe: probe('/healthz', { initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 }),
    readinessProbe: probe('/readyz', { periodSeconds: 5, failureThreshold: 3 }),
    startupProbe: probe('/healthz', { periodSeconds: 2, failureThreshold: 30 }),
    volumeMounts: [
      { name: 'config', mountPath: '/etc/checkout', readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
    ],
    securityContext: {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
  };
  if (defaults) {
    Object.assign(container, {
      imagePullPolicy: 'IfNotPresent',
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
    });
  }
  return container;
}

function podSpec(options: PodOptions, defaults: boolean): Record<string, any> {
  const spec: Record<string, any> = {
    containers: [container(defaults)],
    volumes: [
      { name: 'config', configMap: { name: 'checkout-config', ...(defaults ? { defaultMode: 420 } : {}) } },
      { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
    ],
    serviceAccountName: 'default',
    securityContext: { runAsUser: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'checkout' } },
      },
    ],
    terminationGracePeriodSeconds: 30,
  };
  if (options.schedulerName) spec.schedulerName = options.schedulerName;
  if (defaults) {
    Object.assign(spec, {
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      schedulerName: options.schedulerName ?? 'default-scheduler',
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
    });
  }
  return spec;
}

function podMetadata(options: PodOptions): Record<string, any> {
  const metadata: Record<string, any> = {
    ...(options.name ? { name: options.name } : { generateName: 'checkout-7d9f8b6c5-' }),
    namespace: options.namespace ?? 'shop',
    labels: {
      'app.kubernetes.io/name': 'checkout',
      'app.kubernetes.io/part-of': 'shop',
      'app.kubernetes.io/version': '1.14.2',
      'app.kubernetes.io/component': 'backend',
      'pod-template-hash': '7d9f8b6c5',
    },
    annotations: {
      [PLACEMENT_ANNOTATION]: 'LocalAndRemote',
      [CLUSTERS_ANNOTATION]: 'topology.kubernetes.io/region in (eu-west,eu-central)',
      [PREFER_ANNOTATION]: 'Local',
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9090',
      'kubectl.kubernetes.io/restartedAt': '2025-05-12T08:30:00Z',
    },
  };
  if (options.owner ?? true) {
    metadata.ownerReferences = [
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: 'checkout-7d9f8b6c5',
        uid: '5b0c7a8e-3f1d-4c2a-9e6b-1d2f3a4b5c6d',
        controller: true,
        blockOwnerDeletion: true,
      },
    ];
  }
  return metadata;
}

export function realisticPod(options: PodOptions = {}): Record<string, any> {
  const defaults = options.defaults ?? false;
  return { apiVersion: 'v1', kind: 'Pod', metadata: podMetadata(options), spec: podSpec(options, defaults) };
}

/** The AdmissionReview the apiserver sends to /mutate/pods when the ReplicaSet controller creates the pod. */
export function placementReview(): Record<string, any> {
  const pod = realisticPod({ defaults: true });
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '0f5a1e3c-8d2b-4b7e-a6c9-3e1f2d4c5b6a',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: '8c4e2a1b-7f3d-4e5c-b9a8-6d1c2e3f4a5b',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  };
}
