import { expect } from 'chai';
import fc from 'fast-check';
import { needsRecreate, needsUpdate } from '../../../src/syncer/compare.ts';
import { LAST_APPLIED_ANNOTATION, desiredCopy } from '../../../src/syncer/copy.ts';
import type { KubeObject } from '../../../src/syncer/copy.ts';
import { PAYLOAD_DIGEST, payloadDigest } from '../../../src/syncer/digest.ts';
import { slimLocal, slimRemote } from '../../../src/syncer/slim.ts';
import { REPLICATE_KEY } from '../../../webhooks/keys.ts';

const ctx = { localCluster: 'local', twinNamespace: 'shop-local' };

function local(
  kind: 'ConfigMap' | 'Secret',
  payload: { data?: Record<string, string>; binaryData?: Record<string, string> },
  extra: Partial<KubeObject> = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind,
    metadata: {
      name: 'x',
      namespace: 'shop',
      uid: 'l-uid',
      labels: { [REPLICATE_KEY]: 'true' },
      annotations: { [REPLICATE_KEY]: 'true' },
    },
    ...payload,
    ...extra,
  };
}

/** What the remote apiserver returns for a copy we wrote (uid, resourceVersion, managedFields). */
function remoteOf(desired: KubeObject): KubeObject {
  const o = structuredClone(desired);
  o.metadata = { ...o.metadata, uid: 'r-uid', resourceVersion: '7', managedFields: [{ manager: 'kube-offload' }] };
  return o;
}

describe('syncer cache slimming', () => {
  it('keeps a digest instead of a remote ConfigMap/Secret payload, and drops managedFields', () => {
    const copy = remoteOf(desiredCopy(local('Secret', { data: { password: 'c2VjcmV0' } }), ctx));
    const slim = slimRemote(structuredClone(copy));
    expect(slim).to.not.have.property('data');
    expect(slim.metadata?.managedFields).to.equal(undefined);
    expect(slim[PAYLOAD_DIGEST]).to.equal(payloadDigest(copy));
    expect(slim.metadata?.labels).to.deep.equal(copy.metadata?.labels);
    // Idempotent: slimming a slimmed entry changes nothing.
    expect(slimRemote(structuredClone(slim))).to.deep.equal(slim);
  });

  it('leaves Services and EndpointSlices whole (their specs are compared field by field)', () => {
    const svc = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', managedFields: [{}] },
      spec: { ports: [{ port: 80 }] },
    };
    const slim = slimRemote(structuredClone(svc));
    expect(slim.spec).to.deep.equal(svc.spec);
    expect(slim).to.not.have.property(PAYLOAD_DIGEST);
  });

  it('drops last-applied-configuration and managedFields from local objects, and nothing else', () => {
    const o = local('Secret', { data: { a: 'YQ==' } });
    o.metadata = {
      ...o.metadata,
      managedFields: [{}],
      annotations: { ...o.metadata?.annotations, [LAST_APPLIED_ANNOTATION]: '{"data":{"a":"YQ=="}}', keep: 'me' },
    };
    const slim = slimLocal(structuredClone(o));
    expect(slim.metadata?.annotations).to.deep.equal({ [REPLICATE_KEY]: 'true', keep: 'me' });
    expect(slim.data).to.deep.equal({ a: 'YQ==' });
    // The copy built from the slimmed object is the copy built from the original.
    expect(desiredCopy(slim, ctx)).to.deep.equal(desiredCopy(o, ctx));
  });

  it('digests tell payloads apart without ambiguity, and ignore key order and empty maps', () => {
    const d = (o: { data?: Record<string, string>; binaryData?: Record<string, string> }): string =>
      payloadDigest(o as KubeObject);
    expect(d({ data: { a: '1', b: '2' } })).to.equal(d({ data: { b: '2', a: '1' } }));
    expect(d({ data: {} })).to.equal(d({}));
    expect(d({ data: { a: '1' }, binaryData: {} })).to.equal(d({ data: { a: '1' } }));
    expect(d({ data: { ab: 'c' } })).to.not.equal(d({ data: { a: 'bc' } }));
    expect(d({ data: { a: 'AQ==' } })).to.not.equal(d({ binaryData: { a: 'AQ==' } }));
    expect(d({ data: { a: '1' } })).to.not.equal(d({ data: { a: '1 ' } }));
  });

  it('never changes what the syncer decides: needsUpdate/needsRecreate agree on slimmed and whole copies', () => {
    const payload = fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), fc.string({ maxLength: 12 }), {
      maxKeys: 4,
    });
    fc.assert(
      fc.property(
        fc.constantFrom<'ConfigMap' | 'Secret'>('ConfigMap', 'Secret'),
        payload,
        payload,
        fc.option(payload, { nil: undefined }),
        fc.boolean(),
        fc.boolean(),
        (kind, data, remoteData, binaryData, immutable, remoteImmutable) => {
          const desired = desiredCopy(
            local(kind, { data, ...(binaryData ? { binaryData } : {}) }, immutable ? { immutable: true } : {}),
            ctx,
          );
          // The remote copy: either in sync, or with another payload / immutability.
          for (const actual of [
            remoteOf(desired),
            { ...remoteOf(desired), data: remoteData, ...(remoteImmutable ? { immutable: true } : {}) },
          ]) {
            const slim = slimRemote(structuredClone(actual));
            expect(needsUpdate(desired, slim)).to.equal(needsUpdate(desired, actual));
            expect(needsRecreate(desired, slim)).to.equal(needsRecreate(desired, actual));
          }
          expect(needsUpdate(desired, slimRemote(remoteOf(desired)))).to.equal(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});
