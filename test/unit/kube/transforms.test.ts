import { expect } from 'chai';
import { metadataOnly, withoutManagedFields } from '../../../src/kube/transforms.ts';

const secret = () => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: {
    name: 's',
    namespace: 'shop-local',
    uid: 'u',
    resourceVersion: '7',
    labels: { a: 'b' },
    annotations: { big: 'x'.repeat(100) },
    managedFields: [{ manager: 'm' }],
  },
  data: { password: 'c2VjcmV0' },
  type: 'Opaque',
});

describe('informer transforms', () => {
  it('withoutManagedFields drops managedFields and keeps everything else', () => {
    const o = secret();
    const { managedFields: _, ...rest } = o.metadata;
    expect(withoutManagedFields(o)).to.deep.equal({ ...secret(), metadata: rest });
  });

  it('metadataOnly keeps what tells existence, never the payload', () => {
    const slim = metadataOnly(secret()) as Record<string, unknown>;
    expect(slim).to.deep.equal({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'shop-local', uid: 'u', resourceVersion: '7', labels: { a: 'b' } },
    });
    expect(JSON.stringify(slim)).to.not.contain('c2VjcmV0');
    const deleting = secret() as ReturnType<typeof secret> & { metadata: { deletionTimestamp?: string } };
    deleting.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    expect((metadataOnly(deleting).metadata as Record<string, unknown>).deletionTimestamp).to.equal(
      '2026-01-01T00:00:00Z',
    );
  });
});
