// Where peer finds the remote identities, and the flags of peer and unpeer.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { contains } from '../../../src/peering/apply.ts';
import { parsePeerArgs, parseUnpeerArgs } from '../../../src/peering/config.ts';
import { defaultManifestsRoot, readRemoteManifests } from '../../../src/peering/manifests.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

describe('peering: the remote identities', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peering-manifests-'));
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds manifests/ of this checkout', () => {
    expect(defaultManifestsRoot()).to.equal(path.join(ROOT, 'manifests'));
  });

  it('reads manifests/remote when it exists, Namespace first, one ServiceAccount per component', () => {
    const manifests = readRemoteManifests(path.join(ROOT, 'manifests'));
    expect(manifests.source).to.equal(path.join(ROOT, 'manifests', 'remote'));
    expect(manifests.objects[0]?.kind).to.equal('Namespace');
    expect(manifests.accounts).to.deep.equal({
      syncer: { namespace: 'kube-offload-system', name: 'kube-offload-syncer-remote' },
      'virtual-node': { namespace: 'kube-offload-system', name: 'kube-offload-virtual-node-remote' },
    });
    const kinds = manifests.objects.map((o) => o.kind);
    expect(kinds.indexOf('ClusterRoleBinding')).to.be.greaterThan(kinds.lastIndexOf('ClusterRole'));
  });

  it('falls back to the two remote-rbac.yaml, with the Namespace they share once', () => {
    for (const component of ['syncer', 'virtual-node']) {
      fs.mkdirSync(path.join(dir, component));
      fs.copyFileSync(
        path.join(ROOT, 'manifests', component, 'remote-rbac.yaml'),
        path.join(dir, component, 'remote-rbac.yaml'),
      );
    }
    const manifests = readRemoteManifests(dir);
    expect(manifests.objects.filter((o) => o.kind === 'Namespace')).to.have.length(1);
    expect(manifests.accounts.syncer.name).to.equal('kube-offload-syncer-remote');
  });

  it('says what is wrong with a kustomization it cannot read without kustomize', () => {
    fs.writeFileSync(path.join(dir, 'kustomization.yaml'), 'resources: [a.yaml]\npatches: []\n');
    expect(() => readRemoteManifests(dir)).to.throw(/patches not supported here \(only plain files under resources\)/);
    fs.writeFileSync(path.join(dir, 'kustomization.yaml'), 'resources: [../base]\n');
    expect(() => readRemoteManifests(dir)).to.throw(/resources entry "..\/base" is not a file/);
    fs.rmSync(path.join(dir, 'kustomization.yaml'));
    expect(() => readRemoteManifests(dir)).to.throw(/--manifests: ".*" has none of remote\/kustomization.yaml/);
  });
});

describe('peering: contains (what counts as already applied)', () => {
  it('ignores what the apiserver adds, not what differs', () => {
    const wanted = { spec: { rules: [{ verbs: ['get'] }] }, metadata: { labels: { a: '1' } } };
    const live = {
      spec: { rules: [{ verbs: ['get'], extra: 1 }], defaulted: true },
      metadata: { labels: { a: '1', b: '2' } },
    };
    expect(contains(live, wanted)).to.equal(true);
    expect(contains({ ...live, spec: { rules: [{ verbs: ['get'] }, { verbs: ['list'] }] } }, wanted)).to.equal(false);
    expect(contains({ ...live, metadata: { labels: { a: '2' } } }, wanted)).to.equal(false);
  });
});

describe('peer and unpeer flags', () => {
  it('parses peer flags with defaults', () => {
    const config = parsePeerArgs([
      '--name',
      'eu',
      '--remote-context',
      'eu-admin',
      '--remote-server',
      'https://eu:6443/',
    ]);
    expect(config).to.deep.equal({
      name: 'eu',
      namespace: 'kube-offload-system',
      output: 'table',
      remoteContext: 'eu-admin',
      tokenSeconds: 31_536_000,
      rotate: false,
      remoteServer: 'https://eu:6443',
    });
  });

  it('rejects bad peer input naming the flag, the value and what is allowed', () => {
    expect(() => parsePeerArgs(['--remote-context', 'x'])).to.throw(/--name NAME is required/);
    expect(() => parsePeerArgs(['--name', 'EU', '--remote-context', 'x'])).to.throw(
      /--name: "EU" is not a DNS-1123 label/,
    );
    expect(() => parsePeerArgs(['--name', 'eu'])).to.throw(
      /--remote-context CTX or --remote-kubeconfig FILE is required/,
    );
    expect(() => parsePeerArgs(['--name', 'eu', '--remote-context', 'x', '--token-ttl', '5m'])).to.throw(
      /--token-ttl: "5m" is shorter than 10m/,
    );
    expect(() => parsePeerArgs(['--name', 'eu', '--remote-context', 'x', '--remote-server', 'eu:6443'])).to.throw(
      /--remote-server: "eu:6443" is not an http\(s\) URL/,
    );
    expect(() => parsePeerArgs(['--name', 'eu', '--remote-context', 'x', '-o', 'xml'])).to.throw(
      /--output: "xml" is not one of table, json, yaml/,
    );
  });

  it('parses unpeer flags', () => {
    expect(parseUnpeerArgs(['--name', 'eu', '--drain-timeout', '30s'])).to.deep.equal({
      name: 'eu',
      namespace: 'kube-offload-system',
      output: 'table',
      drainTimeoutMs: 30_000,
      timeoutMs: 300_000,
    });
    expect(() => parseUnpeerArgs(['--name', 'eu', '--timeout', 'soon'])).to.throw(
      /--timeout: "soon" is not a duration/,
    );
  });
});
