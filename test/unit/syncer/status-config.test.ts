import { expect } from 'chai';
import { desiredCopy } from '../../../src/syncer/copy.ts';
import { desiredTwinNamespace } from '../../../src/common/ownership.ts';
import type { KubeObject } from '../../../src/syncer/copy.ts';
import { parseStatusArgs, parseSyncerArgs } from '../../../src/syncer/config.ts';
import { compareNamespace, formatTable } from '../../../src/syncer/status.ts';
import { backfillStamp, compileClusterSelector, excludedFromReplication } from '../../../src/syncer/rules.ts';
import { EventRecorder } from '../../../src/kube/events.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import { REPLICATE_KEY } from '../../../webhooks/keys.ts';

describe('syncer flags', () => {
  it('parses remotes, labels and defaults', () => {
    const c = parseSyncerArgs([
      '--cluster-name',
      'local',
      '--remote',
      'eu=/tmp/eu.kc',
      '--remote',
      'us=/tmp/us.kc',
      '--remote-labels',
      'eu=region=eu,tier=gold',
      '--qps',
      '50',
    ]);
    if (c === 'help') throw new Error('help');
    expect(c.clusterName).to.equal('local');
    expect(c.remotes).to.deep.equal([
      { name: 'eu', kubeconfig: '/tmp/eu.kc', labels: { region: 'eu', tier: 'gold' } },
      { name: 'us', kubeconfig: '/tmp/us.kc', labels: {} },
    ]);
    expect(c.qps).to.equal(50);
    expect(c.burst).to.equal(100);
    expect(c.resyncPeriodMs).to.equal(300_000);
    expect(c.leaderElect).to.equal(false);
    expect(c.metricsPort).to.equal(8080);
  });

  it('puts the Lease in --lease-namespace, else $POD_NAMESPACE, else kube-offload-system', () => {
    const base = ['--cluster-name', 'local', '--remote', 'eu=/tmp/eu.kc'];
    const leaseNamespace = (argv: string[], env: NodeJS.ProcessEnv): string => {
      const c = parseSyncerArgs(argv, env);
      if (c === 'help') throw new Error('help');
      return c.leaseNamespace;
    };
    expect(leaseNamespace([...base, '--lease-namespace', 'ops'], { POD_NAMESPACE: 'pods' })).to.equal('ops');
    expect(leaseNamespace(base, { POD_NAMESPACE: 'pods' })).to.equal('pods');
    expect(leaseNamespace(base, {})).to.equal('kube-offload-system');
    expect(leaseNamespace(base, { POD_NAMESPACE: '' })).to.equal('kube-offload-system');
  });

  it('runs without --remote (remotes come from peer Secrets), in --peer-namespace or $POD_NAMESPACE', () => {
    const peers = (argv: string[], env: NodeJS.ProcessEnv): { remotes: number; namespace: string } => {
      const c = parseSyncerArgs(['--cluster-name', 'local', ...argv], env);
      if (c === 'help') throw new Error('help');
      return { remotes: c.remotes.length, namespace: c.peerNamespace };
    };
    expect(peers([], {})).to.deep.equal({ remotes: 0, namespace: 'kube-offload-system' });
    expect(peers([], { POD_NAMESPACE: 'ops' })).to.deep.equal({ remotes: 0, namespace: 'ops' });
    expect(peers(['--peer-namespace', 'peers'], { POD_NAMESPACE: 'ops' })).to.deep.equal({
      remotes: 0,
      namespace: 'peers',
    });
  });

  it('rejects bad input with a message naming the flag', () => {
    expect(() => parseSyncerArgs(['--remote', 'eu=/x'])).to.throw(/--cluster-name/);
    expect(() => parseSyncerArgs(['--cluster-name', 'l', '--peer-namespace', 'Kube_System'])).to.throw(
      /--peer-namespace: "Kube_System" is not a DNS-1123 label/,
    );
    expect(() => parseSyncerArgs(['--cluster-name', 'l', '--remote', 'EU=/x'])).to.throw(/DNS-1123/);
    expect(() => parseSyncerArgs(['--cluster-name', 'l', '--remote', 'eu=/x', '--remote', 'eu=/y'])).to.throw(/twice/);
    expect(() => parseSyncerArgs(['--cluster-name', 'l', '--remote', 'eu=/x', '--remote-labels', 'us=a=b'])).to.throw(
      /--remote-labels/,
    );
    expect(() => parseSyncerArgs(['--cluster-name', 'l', '--remote', 'eu=/x', '--resync-period', 'soon'])).to.throw(
      /--resync-period/,
    );
    expect(() => parseSyncerArgs(['--cluster-name', 'l', '--remote', 'eu=/x', '--bogus'])).to.throw();
    expect(parseSyncerArgs(['--help'])).to.equal('help');
  });

  it('status takes the same remote flags', () => {
    const c = parseStatusArgs(['--cluster-name', 'local', '--remote', 'r=/k', '-o', 'json']);
    expect(c).to.deep.include({ clusterName: 'local', output: 'json' });
  });

  it('status needs no flag: the remotes and the cluster name come from the peer Secrets', () => {
    expect(parseStatusArgs([], {})).to.deep.equal({ remotes: [], namespace: 'kube-offload-system', output: 'table' });
    expect(parseStatusArgs(['--context', 'prod', '-o', 'yaml'], { POD_NAMESPACE: 'ko' })).to.deep.equal({
      remotes: [],
      namespace: 'ko',
      output: 'yaml',
      context: 'prod',
    });
    expect(() => parseStatusArgs(['-o', 'wide'])).to.throw(/--output: "wide" is not one of table, json, yaml/);
  });
});

describe('syncer rules (from the webhooks)', () => {
  it('excludes kube-root-ca.crt, service-account tokens and Helm releases; honours opt-out', () => {
    expect(excludedFromReplication({ kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt' } })).to.equal(true);
    expect(
      excludedFromReplication({ kind: 'Secret', metadata: { name: 't' }, type: 'kubernetes.io/service-account-token' }),
    ).to.equal(true);
    expect(
      excludedFromReplication({
        kind: 'Secret',
        metadata: { name: 'sh.helm.release.v1.x.v1' },
        type: 'helm.sh/release.v1',
      }),
    ).to.equal(true);
    expect(
      excludedFromReplication({ kind: 'Secret', metadata: { name: 'db', annotations: { [REPLICATE_KEY]: 'false' } } }),
    ).to.equal(true);
    expect(
      excludedFromReplication({
        kind: 'Secret',
        metadata: { name: 'db', labels: { [REPLICATE_KEY]: 'true' } },
        type: 'Opaque',
      }),
    ).to.equal(false);
  });

  it('backfills the stamp with a resourceVersion precondition, mirrors opt-out, skips exclusions', () => {
    expect(backfillStamp({ metadata: { name: 'c', resourceVersion: '7' } }, 'ConfigMap')).to.deep.equal({
      metadata: { resourceVersion: '7', labels: { [REPLICATE_KEY]: 'true' }, annotations: { [REPLICATE_KEY]: 'true' } },
    });
    expect(
      backfillStamp(
        { metadata: { name: 'c', resourceVersion: '7', annotations: { [REPLICATE_KEY]: 'false' } } },
        'ConfigMap',
      ),
    ).to.deep.equal({
      metadata: {
        resourceVersion: '7',
        labels: { [REPLICATE_KEY]: 'false' },
        annotations: { [REPLICATE_KEY]: 'false' },
      },
    });
    expect(backfillStamp({ metadata: { name: 'kube-root-ca.crt' } }, 'ConfigMap')).to.equal(undefined);
    expect(backfillStamp({ metadata: { name: 't' }, type: 'kubernetes.io/service-account-token' }, 'Secret')).to.equal(
      undefined,
    );
    expect(backfillStamp({ metadata: { name: 'c', labels: { [REPLICATE_KEY]: 'true' } } }, 'ConfigMap')).to.equal(
      undefined,
    );
  });

  it('compiles cluster selectors with the webhook parser', () => {
    const m = compileClusterSelector('region in (eu,us),!legacy');
    expect(m({ region: 'eu' })).to.equal(true);
    expect(m({ region: 'eu', legacy: 'x' })).to.equal(false);
    expect(() => compileClusterSelector('region in (')).to.throw();
    // The webhooks' limits apply here too, so replication and placement never disagree.
    const tooMany = Array.from({ length: 65 }, (_, i) => `k${i}=v`).join(',');
    expect(() => compileClusterSelector(tooMany)).to.throw(/65 requirements/);
  });
});

describe('syncer status comparison', () => {
  const ctx = { localCluster: 'local', twinNamespace: 'shop-local' };
  const cm = (name: string, data: Record<string, string>, stamped = true): KubeObject => ({
    kind: 'ConfigMap',
    metadata: { name, namespace: 'shop', uid: `u-${name}`, labels: stamped ? { [REPLICATE_KEY]: 'true' } : {} },
    data,
  });
  const served = (o: KubeObject): KubeObject => ({ ...o, metadata: { ...o.metadata, uid: 'r', resourceVersion: '1' } });
  const empty = { Service: [], Secret: [], ConfigMap: [], EndpointSlice: [] };

  it('counts in sync, pending (missing, differs, orphan) and conflicts', () => {
    const twin = served(desiredTwinNamespace({ metadata: { name: 'shop', uid: 'n' } }, ctx));
    const local = {
      ...empty,
      ConfigMap: [
        cm('same', { a: '1' }),
        cm('changed', { a: '2' }),
        cm('missing', {}),
        cm('taken', {}),
        cm('unstamped', {}, false),
      ],
    };
    const remote = {
      ...empty,
      ConfigMap: [
        served(desiredCopy(cm('same', { a: '1' }), ctx)),
        served(desiredCopy(cm('changed', { a: '1' }), ctx)),
        served(desiredCopy(cm('orphan', {}), ctx)),
        { kind: 'ConfigMap', metadata: { name: 'taken', namespace: 'shop-local', uid: 'f' }, data: {} },
        { kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt', namespace: 'shop-local', uid: 'k' }, data: {} },
      ],
    };
    const r = compareNamespace({
      localCluster: 'local',
      namespace: 'shop',
      twin: 'shop-local',
      twinObject: twin,
      local,
      remote,
      excluded: excludedFromReplication,
    });
    expect(r.twinState).to.equal('ready');
    expect([r.inSync, r.pending, r.conflict]).to.deep.equal([1, 3, 1]);
    expect(r.items.find((i) => i.name === 'orphan')?.why).to.equal('orphan copy');
  });

  it('reports a foreign twin as a conflict for every object', () => {
    const r = compareNamespace({
      localCluster: 'local',
      namespace: 'shop',
      twin: 'shop-local',
      twinObject: { metadata: { name: 'shop-local', uid: 'x' } },
      local: { ...empty, ConfigMap: [cm('a', {}), cm('b', {})] },
      remote: empty,
      excluded: excludedFromReplication,
    });
    expect(r.twinState).to.equal('foreign');
    expect(r.conflict).to.equal(2);
  });

  it('formats a table', () => {
    const text = formatTable([
      {
        namespace: 'shop',
        remote: 'r',
        twin: 'shop-local',
        twinState: 'ready',
        inSync: 3,
        pending: 0,
        conflict: 0,
        lastError: '',
      },
    ]);
    expect(text.split('\n')[0]).to.match(
      /^NAMESPACE\s+REMOTE\s+TWIN\s+TWIN STATE\s+IN SYNC\s+PENDING\s+CONFLICT\s+LAST ERROR$/,
    );
    expect(text).to.contain('shop-local');
  });
});

describe('syncer EventRecorder', () => {
  it('dedupes the same event, drops when the queue is full, never blocks', async () => {
    const written: Array<{ path: string; body: Record<string, unknown> }> = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const client = {
      create: async (path: string, body: Record<string, unknown>) => {
        await gate;
        written.push({ path, body });
        return body;
      },
    } as unknown as KubeClient;
    let dropped = 0;
    const rec = new EventRecorder({ client, component: 'test', maxQueue: 3, onDrop: () => dropped++ });
    const obj: KubeObject = { kind: 'ConfigMap', metadata: { name: 'c', namespace: 'shop', uid: 'u1' } };
    for (let i = 0; i < 100; i++) rec.record(obj, 'Warning', 'ReplicationFailed', 'copy to remote r failed: 503');
    rec.record(obj, 'Normal', 'Replicated', 'copied to remote r as shop-local/c');
    for (let i = 0; i < 5; i++)
      rec.record({ ...obj, metadata: { ...obj.metadata, uid: `x${i}` } }, 'Normal', 'Replicated', 'm');
    expect(dropped).to.be.greaterThan(0);
    release();
    for (let i = 0; i < 50 && rec.pending() > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(written.filter((w) => w.body.reason === 'ReplicationFailed')).to.have.length(1);
    const first = written[0]!;
    expect(first.path).to.equal('/api/v1/namespaces/shop/events');
    expect(first.body.involvedObject).to.deep.equal({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'c',
      namespace: 'shop',
      uid: 'u1',
    });
    rec.stop();
  });

  it('puts events about a Namespace into default, as client-go does', async () => {
    const written: string[] = [];
    const client = { create: async (path: string) => (written.push(path), {}) } as unknown as KubeClient;
    const rec = new EventRecorder({ client, component: 'test' });
    rec.record({ kind: 'Namespace', metadata: { name: 'shop', uid: 'n' } }, 'Warning', 'ReplicationConflict', 'taken');
    for (let i = 0; i < 50 && rec.pending() > 0; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 5));
    expect(written).to.deep.equal(['/api/v1/namespaces/default/events']);
  });
});
