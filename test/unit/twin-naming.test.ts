// kube-offload.io/twin-name: the one twin name the syncer and the provider compute, which remote
// namespace counts as a namespace's twin, what the syncer plans when the name is taken, and what
// the validating webhook admits. Pure functions only; the shells are covered against fakes
// (test/unit/virtualnode/provider.test.ts) and on real clusters (test/e2e/twin-naming.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import { desiredTwinNamespace, isTwinOf } from '../../src/common/ownership.ts';
import { possibleTwinNames, twinNaming, twinNamespaceOf } from '../../src/common/twin.ts';
import { planNamespace, twinState } from '../../src/syncer/plan.ts';
import { ENABLED_LABEL, TWIN_NAME_ANNOTATION } from '../../webhooks/keys.ts';
import type { AdmissionResponse, KubeObject } from '../../webhooks/types.ts';
import { validate } from '../../webhooks/validate.ts';
import { context, review } from './webhooks/helpers.ts';

const CLUSTER = 'local';
const namespace = (name: string, naming?: string, optedIn = true): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: {
    name,
    uid: `uid-${name}`,
    labels: optedIn ? { [ENABLED_LABEL]: 'true' } : {},
    ...(naming === undefined ? {} : { annotations: { [TWIN_NAME_ANNOTATION]: naming } }),
  },
});
/** Our twin of local namespace `ns`, named `twin`, as the remote returns it. */
const twinOf = (ns: KubeObject, twin: string): KubeObject => ({
  ...desiredTwinNamespace(ns, { localCluster: CLUSTER, twinNamespace: twin }),
  metadata: { ...desiredTwinNamespace(ns, { localCluster: CLUSTER, twinNamespace: twin }).metadata, uid: `r-${twin}` },
});

describe('twin naming: twinNamespaceOf', () => {
  it('is <namespace>-<cluster> by default and with ClusterSuffix, <namespace> with SameName', () => {
    expect(twinNamespaceOf('shop', namespace('shop'), CLUSTER)).to.equal('shop-local');
    expect(twinNamespaceOf('shop', namespace('shop', 'ClusterSuffix'), CLUSTER)).to.equal('shop-local');
    expect(twinNamespaceOf('shop', namespace('shop', 'SameName'), CLUSTER)).to.equal('shop');
  });

  it('takes the default for a value the webhook rejects, and for a namespace that is gone', () => {
    for (const value of ['samename', 'Same', '', ' SameName']) {
      expect(twinNaming(namespace('shop', value)), JSON.stringify(value)).to.equal('ClusterSuffix');
      expect(twinNamespaceOf('shop', namespace('shop', value), CLUSTER)).to.equal('shop-local');
    }
    expect(twinNamespaceOf('shop', undefined, CLUSTER)).to.equal('shop-local');
  });

  it('keeps a 63-character namespace as it is with SameName (it is a DNS label already)', () => {
    const long = 'n'.repeat(63);
    expect(twinNamespaceOf(long, namespace(long, 'SameName'), CLUSTER)).to.equal(long);
    expect(twinNamespaceOf(long, namespace(long), CLUSTER))
      .to.have.length(63)
      .and.not.equal(long);
  });

  it('knows both names a twin can have (the other one is where a stale twin sits)', () => {
    expect(possibleTwinNames('shop', CLUSTER)).to.deep.equal(['shop-local', 'shop']);
  });
});

describe('twin naming: which remote namespace is the twin', () => {
  const shop = namespace('shop');
  const shopLocal = namespace('shop-local', 'SameName');
  const foreign: KubeObject = { metadata: { name: 'shop', uid: 'f', labels: { team: 'theirs' } } };

  it("is ours for that very namespace only, not another local namespace's twin of the same name", () => {
    const twin = twinOf(shop, 'shop-local');
    expect(isTwinOf(twin, CLUSTER, 'shop')).to.equal(true);
    expect(isTwinOf(twin, CLUSTER, 'shop-local')).to.equal(false);
    expect(isTwinOf(twin, 'other-cluster', 'shop')).to.equal(false);
    expect(isTwinOf(foreign, CLUSTER, 'shop')).to.equal(false);
  });

  it('plans a conflict, never an update or a delete, for a name taken by a foreign namespace or another twin', () => {
    const taken = twinOf(shop, 'shop-local');
    const desired = desiredTwinNamespace(shopLocal, { localCluster: CLUSTER, twinNamespace: 'shop-local' });
    const conflict = planNamespace(desired, taken, CLUSTER, 'shop-local');
    expect(conflict).to.deep.equal({
      type: 'conflict',
      reason: 'namespace shop-local already exists in the remote cluster as the twin of local/shop; not adopted',
    });
    // shop-local opted out: shop's twin is not shop-local's to delete.
    expect(planNamespace(undefined, taken, CLUSTER, 'shop-local')).to.deep.equal({ type: 'none' });
    expect(twinState(taken, CLUSTER, 'shop-local')).to.equal('foreign');
    const sameName = desiredTwinNamespace(namespace('shop', 'SameName'), {
      localCluster: CLUSTER,
      twinNamespace: 'shop',
    });
    expect(planNamespace(sameName, foreign, CLUSTER, 'shop')).to.deep.equal({
      type: 'conflict',
      reason: 'namespace shop already exists in the remote cluster and is not managed by kube-offload; not adopted',
    });
  });
});

describe('twin naming: the validating webhook', () => {
  const run = (object: KubeObject, oldObject?: KubeObject): AdmissionResponse =>
    validate(review('Namespace', object, oldObject ? { operation: 'UPDATE', oldObject } : {}), context());
  const verdict = (response: AdmissionResponse) => ({
    allowed: response.allowed,
    code: response.status?.code,
    message: response.status?.message,
  });

  it('admits SameName and ClusterSuffix, and rejects anything else naming key, value and the allowed values', () => {
    expect(run(namespace('shop', 'SameName')).allowed).to.equal(true);
    expect(run(namespace('shop', 'ClusterSuffix')).allowed).to.equal(true);
    expect(verdict(run(namespace('shop', 'samename')))).to.deep.equal({
      allowed: false,
      code: 422,
      message: 'kube-offload.io/twin-name: "samename" is not one of ClusterSuffix, SameName',
    });
  });

  it('refuses a change of the naming while the namespace stays opted in, removing the key included', () => {
    const message = (from: string, to: string): string =>
      `kube-offload.io/twin-name: may not change from "${from}" to "${to}" while the namespace is opted in ` +
      '(kube-offload.io/enabled: "true"): its twins, their copies and its offloaded pods live under the current ' +
      'name; set kube-offload.io/enabled: "false" first (that removes its twins and their pods), then change it';
    expect(verdict(run(namespace('shop', 'SameName'), namespace('shop')))).to.deep.equal({
      allowed: false,
      code: 422,
      message: message('ClusterSuffix', 'SameName'),
    });
    expect(verdict(run(namespace('shop'), namespace('shop', 'SameName')))).to.deep.equal({
      allowed: false,
      code: 422,
      message: message('SameName', 'ClusterSuffix'),
    });
  });

  it('allows what does not move a twin: same naming spelled out or dropped, opting out, or a namespace not opted in', () => {
    expect(run(namespace('shop', 'ClusterSuffix'), namespace('shop')).allowed).to.equal(true);
    expect(run(namespace('shop'), namespace('shop', 'ClusterSuffix')).allowed).to.equal(true);
    expect(run(namespace('shop', 'SameName', false), namespace('shop')).allowed, 'opting out at once').to.equal(true);
    expect(run(namespace('shop', 'SameName', false), namespace('shop', undefined, false)).allowed).to.equal(true);
    expect(run(namespace('shop', 'SameName'), namespace('shop', undefined, false)).allowed, 'opting in').to.equal(true);
    // A bad value from before the webhook is ratcheted, and counts as the default it stands for.
    expect(run(namespace('shop', 'samename'), namespace('shop', 'samename')).allowed).to.equal(true);
    expect(run(namespace('shop', 'ClusterSuffix'), namespace('shop', 'samename')).allowed).to.equal(true);
  });

  it("is sent every update of a namespace that had the key (the namespace webhook's matchCondition)", () => {
    const manifest = path.join(import.meta.dirname, '..', '..', 'manifests', 'webhook', 'validating.yaml');
    const webhooks = (
      parse(fs.readFileSync(manifest, 'utf8')) as {
        webhooks: Array<{ name: string; matchConditions: Array<{ expression: string }> }>;
      }
    ).webhooks;
    const namespaces = webhooks.find((w) => w.name === 'namespaces.validate.kube-offload.io');
    const expression = (namespaces?.matchConditions[0]?.expression ?? '').replace(/\s+/g, ' ');
    expect(expression).to.include(
      `(oldObject != null && has(oldObject.metadata.annotations) && '${TWIN_NAME_ANNOTATION}' in oldObject.metadata.annotations)`,
    );
    // And CEL never vouches for the key itself: no clause admits kube-offload.io/twin-name values.
    expect(expression).to.not.match(/k == 'kube-offload\.io\/twin-name'/);
  });
});
