import { expect } from 'chai';
import fc from 'fast-check';
import {
  LIQO_CONVENTION,
  MANAGED_BY_LABEL,
  ORIGIN_ANNOTATION,
  ORIGIN_CLUSTER_LABEL,
  ORIGIN_UID_ANNOTATION,
  REMOTE_CLUSTER_LABEL,
} from '../../../webhooks/keys.ts';
import type { Placement, Preference } from '../../../webhooks/keys.ts';
import { applyPlan, planPlacement } from '../../../webhooks/placement.ts';
import { parseSelector } from '../../../webhooks/selector.ts';
import { summarizeRemote, virtualNodeLabels, virtualOnlyLabelKeys } from '../../../src/virtualnode/node.ts';
import type { VirtualNodeConfig } from '../../../src/virtualnode/node.ts';
import {
  localKeyOfRemote,
  lostPodStatusPatch,
  mirroredStatus,
  missingReferences,
  planPod,
  remotePodFor,
  requiredReferences,
  statusPatch,
} from '../../../src/virtualnode/pod.ts';
import type { PlanContext, RemotePodContext } from '../../../src/virtualnode/pod.ts';
import type { Node, Pod, PodSpec } from '../../../src/virtualnode/types.ts';

const cfg: VirtualNodeConfig = {
  nodeName: 'virtual-remote',
  remoteCluster: 'remote',
  nodeIP: '127.0.0.1',
  convention: LIQO_CONVENTION,
};
const remoteNodes: Node[] = ['a', 'b'].map((z) => ({
  metadata: {
    name: z,
    labels: { 'topology.kubernetes.io/region': 'eu-west', 'topology.kubernetes.io/zone': `eu-west-${z}` },
  },
  status: { capacity: { cpu: '8' }, conditions: [{ type: 'Ready', status: 'True' }] },
}));
const summary = summarizeRemote(remoteNodes, LIQO_CONVENTION);
const ctx: RemotePodContext = {
  localCluster: 'local',
  remoteCluster: 'remote',
  twinNamespace: 'shop-local',
  convention: LIQO_CONVENTION,
  nodeName: cfg.nodeName,
  nodeLabels: virtualNodeLabels(cfg, summary),
  virtualOnlyKeys: virtualOnlyLabelKeys(cfg, summary),
};

const USER_TOLERATION = { key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' };
const DEFAULT_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

/** A pod as the apiserver stores it after our placement webhook and the usual admission plugins. */
function admittedPod(
  placement: Placement,
  clusters: string,
  prefer: Preference | undefined,
  user: Partial<PodSpec> = {},
): Pod {
  const spec: PodSpec = {
    containers: [
      {
        name: 'server',
        image: 'gcr.io/google-samples/microservices-demo/paymentservice:v0.10.2',
        volumeMounts: [
          { name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
        ],
      },
    ],
    serviceAccountName: 'payment',
    serviceAccount: 'payment',
    volumes: [
      {
        name: 'kube-api-access-abcde',
        projected: {
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          ],
        },
      },
    ],
    priority: 0,
    schedulerName: 'default-scheduler',
    enableServiceLinks: true,
    ...user,
    tolerations: [...(user.tolerations ?? []), ...DEFAULT_TOLERATIONS],
  };
  applyPlan(
    spec as unknown as Record<string, unknown>,
    planPlacement(placement, clusters ? parseSelector(clusters) : [], prefer, LIQO_CONVENTION),
    LIQO_CONVENTION,
  );
  spec.nodeName = 'virtual-remote';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'payment-7d4b9c-x2x9z',
      namespace: 'shop',
      uid: 'local-uid-1',
      resourceVersion: '100',
      labels: { app: 'paymentservice', 'pod-template-hash': '7d4b9c' },
      annotations: { 'kube-offload.io/placement': placement },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'payment-7d4b9c', uid: 'rs-uid', controller: true },
      ],
    },
    spec,
    status: {
      phase: 'Pending',
      qosClass: 'BestEffort',
      conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: '2025-01-01T00:00:00Z' }],
    },
  };
}

describe('virtualnode remote pod', () => {
  it("Remote with a region selector: strips the toleration and virtual-node terms, keeps the user's", () => {
    const userAffinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'disktype', operator: 'NotIn', values: ['hdd'] }] }],
        },
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 10, preference: { matchExpressions: [{ key: 'cpu', operator: 'In', values: ['fast'] }] } },
        ],
      },
    };
    const local = admittedPod('Remote', 'topology.kubernetes.io/region=eu-west', undefined, {
      tolerations: [USER_TOLERATION],
      affinity: userAffinity,
    });
    // The webhook did its part:
    expect(local.spec?.tolerations?.some((t) => t.key === LIQO_CONVENTION.taintKey)).to.equal(true);
    const remote = remotePodFor(local, ctx);
    expect(remote.metadata?.name).to.equal('payment-7d4b9c-x2x9z');
    expect(remote.metadata?.namespace).to.equal('shop-local');
    expect(remote.spec?.tolerations).to.deep.equal([USER_TOLERATION, ...DEFAULT_TOLERATIONS]);
    expect(remote.spec?.affinity).to.deep.equal({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: 'disktype', operator: 'NotIn', values: ['hdd'] },
                { key: 'topology.kubernetes.io/region', operator: 'In', values: ['eu-west'] },
              ],
            },
          ],
        },
        preferredDuringSchedulingIgnoredDuringExecution:
          userAffinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution,
      },
    });
    expect(remote.spec).to.not.have.property('nodeName');
  });

  it('Remote selecting by remote-cluster name: no required affinity is left', () => {
    const local = admittedPod('Remote', `${REMOTE_CLUSTER_LABEL}=remote`, undefined);
    const remote = remotePodFor(local, ctx);
    expect(remote.spec?.affinity).to.equal(undefined);
    expect(remote.spec?.tolerations).to.deep.equal(DEFAULT_TOLERATIONS);
  });

  it('LocalAndRemote with a selector: drops the "not a virtual node" branch', () => {
    const local = admittedPod('LocalAndRemote', 'topology.kubernetes.io/region in (eu-west,us-east)', undefined);
    expect(
      local.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
    ).to.have.length(2);
    const remote = remotePodFor(local, ctx);
    expect(remote.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution).to.deep.equal({
      nodeSelectorTerms: [
        {
          matchExpressions: [{ key: 'topology.kubernetes.io/region', operator: 'In', values: ['eu-west', 'us-east'] }],
        },
      ],
    });
  });

  it("prefer Remote: drops the preference on virtual nodes, keeps the user's nodeSelector", () => {
    const local = admittedPod('LocalAndRemote', '', 'Remote', {
      nodeSelector: { 'kubernetes.io/os': 'linux', [LIQO_CONVENTION.labelKey]: LIQO_CONVENTION.labelValue },
    });
    expect(local.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution).to.have.length(1);
    const remote = remotePodFor(local, { ...ctx, nodeLabels: { ...ctx.nodeLabels, 'kubernetes.io/os': 'linux' } });
    expect(remote.spec?.affinity).to.equal(undefined);
    // kubernetes.io/os was not derived from the remote nodes here, but it is not a virtual-node key either
    expect(remote.spec?.nodeSelector).to.deep.equal({ 'kubernetes.io/os': 'linux' });
  });

  it('a user toleration of the virtual-node taint goes too (it means nothing remotely); others stay', () => {
    const tolerateAll = { operator: 'Exists' };
    const local = admittedPod('Remote', '', undefined, {
      tolerations: [tolerateAll, { key: LIQO_CONVENTION.taintKey, operator: 'Exists' }],
    });
    expect(remotePodFor(local, ctx).spec?.tolerations).to.deep.equal([tolerateAll, ...DEFAULT_TOLERATIONS]);
  });

  it('service account: no token, default account, no kube-api-access volume or mount', () => {
    const local = admittedPod('Remote', '', undefined, {
      volumes: [{ name: 'config', configMap: { name: 'shop-config' } }],
    });
    local.spec?.volumes?.push({
      name: 'kube-api-access-abcde',
      projected: { sources: [{ serviceAccountToken: { path: 'token' } }] },
    });
    local.spec?.containers[0]?.volumeMounts?.push({ name: 'config', mountPath: '/etc/shop' });
    const spec = remotePodFor(local, ctx).spec;
    expect(spec?.automountServiceAccountToken).to.equal(false);
    expect(spec).to.not.have.property('serviceAccountName');
    expect(spec).to.not.have.property('serviceAccount');
    expect(spec?.volumes).to.deep.equal([{ name: 'config', configMap: { name: 'shop-config' } }]);
    expect(spec?.containers[0]?.volumeMounts).to.deep.equal([{ name: 'config', mountPath: '/etc/shop' }]);
    expect(spec).to.not.have.property('priority');
    expect(spec).to.not.have.property('schedulerName');
  });

  it('keeps labels, adds ownership marks, drops owner references and runtime metadata', () => {
    const remote = remotePodFor(admittedPod('Remote', '', undefined), ctx);
    expect(remote.metadata?.labels).to.deep.equal({
      app: 'paymentservice',
      'pod-template-hash': '7d4b9c',
      [MANAGED_BY_LABEL]: 'kube-offload',
      [ORIGIN_CLUSTER_LABEL]: 'local',
    });
    expect(remote.metadata?.annotations).to.deep.equal({
      'kube-offload.io/placement': 'Remote',
      [ORIGIN_ANNOTATION]: 'local/shop/payment-7d4b9c-x2x9z',
      [ORIGIN_UID_ANNOTATION]: 'local-uid-1',
    });
    expect(remote.metadata).to.not.have.any.keys('uid', 'resourceVersion', 'ownerReferences');
    expect(remote).to.not.have.property('status');
    expect(localKeyOfRemote(remote, 'local')).to.equal('shop/payment-7d4b9c-x2x9z');
    expect(localKeyOfRemote(remote, 'other')).to.equal(undefined);
  });

  it("property: with placement Remote the remote pod keeps exactly the user's tolerations and required terms", () => {
    const key = fc.constantFrom('disktype', 'team', 'gpu', 'example.com/pool');
    const value = fc.constantFrom('a', 'b', 'c');
    const requirement = fc.oneof(
      fc.record({ key, operator: fc.constant('NotIn'), values: fc.array(value, { minLength: 1, maxLength: 2 }) }),
      fc.record({ key, operator: fc.constant('DoesNotExist') }),
    );
    const term = fc.record({
      matchExpressions: fc.uniqueArray(requirement, { minLength: 1, maxLength: 3, selector: (r) => r.key }),
    });
    const toleration = fc.record({
      key,
      operator: fc.constant('Equal'),
      value,
      effect: fc.constantFrom('NoSchedule', 'NoExecute'),
    });
    fc.assert(
      fc.property(
        fc.array(toleration, { maxLength: 3 }),
        // Distinct terms: the webhook folds duplicates, which is not ours to test.
        fc.option(fc.uniqueArray(term, { minLength: 1, maxLength: 3, selector: (t) => JSON.stringify(t) }), {
          nil: undefined,
        }),
        (tolerations, terms) => {
          const user: Partial<PodSpec> = { tolerations };
          if (terms)
            user.affinity = {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: structuredClone(terms) },
              },
            };
          const remote = remotePodFor(admittedPod('Remote', '', undefined, user), ctx);
          expect(remote.spec?.tolerations ?? []).to.deep.equal([...tolerations, ...DEFAULT_TOLERATIONS]);
          expect(
            remote.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
          ).to.deep.equal(terms);
        },
      ),
    );
  });
});

describe('virtualnode references', () => {
  it('collects required ConfigMaps and Secrets from env, envFrom, volumes and imagePullSecrets', () => {
    const spec: PodSpec = {
      initContainers: [{ name: 'init', envFrom: [{ secretRef: { name: 'init-secret' } }] }],
      containers: [
        {
          name: 'app',
          env: [
            { name: 'A', valueFrom: { configMapKeyRef: { name: 'cm-env', key: 'a' } } },
            { name: 'B', valueFrom: { secretKeyRef: { name: 'secret-env', key: 'b' } } },
            { name: 'C', valueFrom: { configMapKeyRef: { name: 'cm-optional', key: 'c', optional: true } } },
            { name: 'D', value: 'plain' },
          ],
          envFrom: [{ configMapRef: { name: 'cm-from' } }, { secretRef: { name: 'secret-optional', optional: true } }],
        },
      ],
      volumes: [
        { name: 'v1', configMap: { name: 'cm-vol' } },
        { name: 'v2', secret: { secretName: 'secret-vol' } },
        {
          name: 'v3',
          projected: {
            sources: [
              { configMap: { name: 'cm-proj' } },
              { secret: { name: 'secret-proj' } },
              { configMap: { name: 'kube-root-ca.crt' } },
            ],
          },
        },
      ],
      imagePullSecrets: [{ name: 'registry' }],
    };
    const refs = requiredReferences(spec);
    expect(refs).to.deep.equal({
      configMaps: ['cm-env', 'cm-from', 'cm-proj', 'cm-vol'],
      secrets: ['init-secret', 'registry', 'secret-env', 'secret-proj', 'secret-vol'],
    });
    expect(missingReferences(refs, (kind, name) => kind === 'configmap' || name !== 'registry')).to.deep.equal([
      'secret/registry',
    ]);
  });

  it('the dropped kube-api-access volume is not a reference', () => {
    const remote = remotePodFor(admittedPod('Remote', '', undefined), ctx);
    expect(requiredReferences(remote.spec as PodSpec)).to.deep.equal({ configMaps: [], secrets: [] });
  });
});

function runningRemote(local: Pod, overrides: Partial<NonNullable<Pod['status']>> = {}): Pod {
  const remote = remotePodFor(local, ctx);
  remote.metadata = { ...remote.metadata, uid: 'remote-uid-1', resourceVersion: '55' };
  remote.status = {
    phase: 'Running',
    podIP: '172.16.2.7',
    podIPs: [{ ip: '172.16.2.7' }],
    hostIP: '10.20.0.12',
    hostIPs: [{ ip: '10.20.0.12' }],
    startTime: '2025-01-01T00:00:01Z',
    qosClass: 'BestEffort',
    conditions: [
      {
        type: 'PodReadyToStartContainers',
        status: 'True',
        lastTransitionTime: '2025-01-01T00:00:02Z',
        lastProbeTime: null,
      },
      { type: 'Initialized', status: 'True', lastTransitionTime: '2025-01-01T00:00:01Z', lastProbeTime: null },
      { type: 'Ready', status: 'True', lastTransitionTime: '2025-01-01T00:00:03Z', lastProbeTime: null },
      { type: 'ContainersReady', status: 'True', lastTransitionTime: '2025-01-01T00:00:03Z', lastProbeTime: null },
      { type: 'PodScheduled', status: 'True', lastTransitionTime: '2025-01-01T00:00:01Z', lastProbeTime: null },
    ],
    containerStatuses: [
      {
        name: 'server',
        ready: true,
        started: true,
        restartCount: 0,
        image: 'paymentservice:v0.10.2',
        imageID: '',
        containerID: 'kwok://server',
        state: { running: { startedAt: '2025-01-01T00:00:02Z' } },
      },
    ],
    ...overrides,
  };
  return remote;
}

/** The local pod after our status patch was applied (merge patch semantics). */
function applied(local: Pod, patch: Record<string, unknown>): Pod {
  const status: Record<string, unknown> = { ...local.status };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete status[k];
    else status[k] = structuredClone(v);
  }
  return {
    ...local,
    status,
    metadata: { ...local.metadata, resourceVersion: String(Number(local.metadata?.resourceVersion ?? 0) + 1) },
  };
}

describe('virtualnode status mirroring', () => {
  const local = admittedPod('Remote', '', undefined);
  const remote = runningRemote(local);

  it("mirrors phase, kubelet conditions, pod IP, start time and containers; hostIP is the virtual node's", () => {
    const patch = statusPatch(local, mirroredStatus(local, remote, '127.0.0.1'));
    expect(patch).to.include({
      phase: 'Running',
      podIP: '172.16.2.7',
      hostIP: '127.0.0.1',
      startTime: '2025-01-01T00:00:01Z',
    });
    expect(patch?.hostIPs).to.deep.equal([{ ip: '127.0.0.1' }]);
    expect(patch?.podIPs).to.deep.equal([{ ip: '172.16.2.7' }]);
    expect(patch?.containerStatuses).to.deep.equal(remote.status?.containerStatuses);
    const types = (patch?.conditions as Array<{ type: string; status: string; lastTransitionTime?: string }>).map(
      (c) => `${c.type}=${c.status}`,
    );
    expect(types).to.deep.equal([
      'PodScheduled=True',
      'PodReadyToStartContainers=True',
      'Initialized=True',
      'Ready=True',
      'ContainersReady=True',
    ]);
    // PodScheduled stays the local scheduler's
    expect((patch?.conditions as Array<{ type: string; lastTransitionTime?: string }>)[0]?.lastTransitionTime).to.equal(
      '2025-01-01T00:00:00Z',
    );
    expect(patch).to.not.have.property('qosClass');
  });

  it('writes nothing once the local pod agrees (also with conditions in another order)', () => {
    const patch = statusPatch(local, mirroredStatus(local, remote, '127.0.0.1')) as Record<string, unknown>;
    const synced = applied(local, patch);
    expect(statusPatch(synced, mirroredStatus(synced, remote, '127.0.0.1'))).to.equal(undefined);
    const reordered: Pod = {
      ...synced,
      status: { ...synced.status, conditions: [...(synced.status?.conditions ?? [])].reverse() },
    };
    expect(statusPatch(reordered, mirroredStatus(reordered, remote, '127.0.0.1'))).to.equal(undefined);
    expect(planPod(synced, remote, planCtx)).to.deep.equal([]);
  });

  it('reflects a remote container restart', () => {
    const synced = applied(
      local,
      statusPatch(local, mirroredStatus(local, remote, '127.0.0.1')) as Record<string, unknown>,
    );
    const restarted = runningRemote(local, {
      containerStatuses: [
        {
          ...(remote.status?.containerStatuses?.[0] as { name: string }),
          restartCount: 1,
          lastState: { terminated: { exitCode: 1, reason: 'Error' } },
        },
      ],
    });
    const patch = statusPatch(synced, mirroredStatus(synced, restarted, '127.0.0.1'));
    expect(Object.keys(patch ?? {})).to.deep.equal(['containerStatuses']);
    expect((patch?.containerStatuses as Array<{ restartCount: number }>)[0]?.restartCount).to.equal(1);
  });

  it('clears fields the remote pod no longer has and mirrors eviction', () => {
    const synced = applied(
      local,
      statusPatch(local, mirroredStatus(local, remote, '127.0.0.1')) as Record<string, unknown>,
    );
    const evicted = runningRemote(local, {
      phase: 'Failed',
      reason: 'Evicted',
      message: 'The node was low on resource: memory.',
      podIP: undefined,
      podIPs: undefined,
    });
    const patch = statusPatch(synced, mirroredStatus(synced, evicted, '127.0.0.1'));
    expect(patch).to.include({ phase: 'Failed', reason: 'Evicted', podIP: null, podIPs: null });
  });

  it('fails a lost pod: phase Failed, not ready, containers terminated', () => {
    const synced = applied(
      local,
      statusPatch(local, mirroredStatus(local, remote, '127.0.0.1')) as Record<string, unknown>,
    );
    const patch = lostPodStatusPatch(synced, 'remote', '2025-01-01T01:00:00Z');
    expect(patch).to.include({ phase: 'Failed', reason: 'RemotePodLost' });
    const conds = patch.conditions as Array<{ type: string; status: string }>;
    expect(conds.find((c) => c.type === 'Ready')?.status).to.equal('False');
    expect(conds.find((c) => c.type === 'PodScheduled')?.status).to.equal('True');
    const cs = (
      patch.containerStatuses as Array<{ ready: boolean; state: { terminated?: { exitCode: number; reason: string } } }>
    )[0];
    expect(cs?.ready).to.equal(false);
    expect(cs?.state.terminated).to.include({ exitCode: 137, reason: 'ContainerStatusUnknown' });
  });
});

const planCtx: PlanContext = {
  localCluster: 'local',
  remoteCluster: 'remote',
  hostIP: '127.0.0.1',
  now: '2025-01-01T01:00:00Z',
  remotePod: (p) => remotePodFor(p, ctx),
};

describe('virtualnode pod plan', () => {
  const local = admittedPod('Remote', '', undefined);
  const remote = runningRemote(local);
  const mirrored = applied(
    local,
    statusPatch(local, mirroredStatus(local, remote, '127.0.0.1')) as Record<string, unknown>,
  );

  it('creates the remote pod for a new local pod', () => {
    const plan = planPod(local, undefined, planCtx);
    expect(plan.map((a) => a.kind)).to.deep.equal(['createRemote']);
  });

  it('mirrors status when the remote pod exists', () => {
    expect(planPod(local, remote, planCtx).map((a) => a.kind)).to.deep.equal(['patchLocalStatus']);
  });

  it('fails the local pod when a remote pod it ran on vanished (never re-creates it)', () => {
    const plan = planPod(mirrored, undefined, planCtx);
    expect(plan.map((a) => a.kind)).to.deep.equal(['failLocal']);
  });

  it('graceful local delete: deletes the remote pod with the same grace, then finalizes', () => {
    const deleting: Pod = {
      ...mirrored,
      metadata: { ...mirrored.metadata, deletionTimestamp: '2025-01-01T01:00:00Z', deletionGracePeriodSeconds: 30 },
    };
    expect(planPod(deleting, remote, planCtx)).to.deep.equal([
      {
        kind: 'deleteRemote',
        namespace: 'shop-local',
        name: 'payment-7d4b9c-x2x9z',
        uid: 'remote-uid-1',
        gracePeriodSeconds: 30,
        why: 'local-deleted',
      },
    ]);
    const remoteGoing: Pod = { ...remote, metadata: { ...remote.metadata, deletionTimestamp: '2025-01-01T01:00:00Z' } };
    expect(planPod(deleting, remoteGoing, planCtx)).to.deep.equal([]);
    expect(planPod(deleting, undefined, planCtx)).to.deep.equal([{ kind: 'finalizeLocal', uid: 'local-uid-1' }]);
  });

  it('deletes an orphan remote pod, and leaves one alone that is already going', () => {
    expect(planPod(undefined, remote, planCtx).map((a) => a.kind)).to.deep.equal(['deleteRemote']);
    expect(
      planPod(undefined, { ...remote, metadata: { ...remote.metadata, deletionTimestamp: 'x' } }, planCtx),
    ).to.deep.equal([]);
    expect(planPod(undefined, undefined, planCtx)).to.deep.equal([]);
  });

  it('a same-named remote pod of an earlier local pod is deleted before the new one is created', () => {
    const successor: Pod = { ...local, metadata: { ...local.metadata, uid: 'local-uid-2' } };
    const plan = planPod(successor, remote, planCtx);
    expect(plan).to.deep.equal([
      {
        kind: 'deleteRemote',
        namespace: 'shop-local',
        name: 'payment-7d4b9c-x2x9z',
        uid: 'remote-uid-1',
        why: 'stale',
      },
    ]);
    const staleGoing: Pod = { ...remote, metadata: { ...remote.metadata, deletionTimestamp: 'x' } };
    expect(planPod(successor, staleGoing, planCtx)).to.deep.equal([]);
  });

  it('stops the remote pod of a local pod that is terminal', () => {
    const failed: Pod = { ...mirrored, status: { ...mirrored.status, phase: 'Failed' } };
    expect(planPod(failed, remote, planCtx).map((a) => a.kind)).to.deep.equal(['deleteRemote']);
    expect(planPod(failed, undefined, planCtx)).to.deep.equal([]);
  });

  it('propagates label changes to the remote pod', () => {
    const relabelled: Pod = {
      ...mirrored,
      metadata: { ...mirrored.metadata, labels: { app: 'paymentservice', version: 'v2' } },
    };
    const plan = planPod(relabelled, remote, planCtx);
    expect(plan).to.deep.equal([
      {
        kind: 'patchRemoteLabels',
        namespace: 'shop-local',
        name: 'payment-7d4b9c-x2x9z',
        labels: { version: 'v2', 'pod-template-hash': null },
      },
    ]);
  });

  it('leaves the topology labels the remote cluster put on its pod alone', () => {
    const bound: Pod = {
      ...remote,
      metadata: {
        ...remote.metadata,
        labels: { ...remote.metadata?.labels, 'topology.kubernetes.io/zone': 'eu-west-b' },
      },
    };
    expect(planPod(mirrored, bound, planCtx)).to.deep.equal([]);
    const localTopology: Pod = {
      ...mirrored,
      metadata: {
        ...mirrored.metadata,
        labels: { ...mirrored.metadata?.labels, 'topology.kubernetes.io/region': 'eu-west' },
      },
    };
    expect(planPod(localTopology, bound, planCtx)).to.deep.equal([
      {
        kind: 'patchRemoteLabels',
        namespace: 'shop-local',
        name: 'payment-7d4b9c-x2x9z',
        labels: { 'topology.kubernetes.io/region': 'eu-west' },
      },
    ]);
  });
});
