import { expect } from 'chai';
import { identityObjects, type Manifest } from '../../src/sandbox/manifests.ts';

const object = (kind: string, name: string, extra: Record<string, unknown> = {}): Manifest => ({
  apiVersion: 'v1',
  kind,
  metadata: { name },
  ...extra,
});
const binding = (kind: string, name: string, roleKind: string, role: string, subject: string): Manifest =>
  object(kind, name, {
    roleRef: { kind: roleKind, name: role },
    subjects: [{ kind: 'ServiceAccount', name: subject, namespace: 'ns' }],
  });

describe('sandbox identityObjects', () => {
  const manifests = [
    object('Namespace', 'ns'),
    object('ServiceAccount', 'a'),
    object('ServiceAccount', 'b'),
    object('ClusterRole', 'a-reader'),
    object('Role', 'shared-leases'),
    object('ClusterRole', 'b-only'),
    binding('ClusterRoleBinding', 'a-reader', 'ClusterRole', 'a-reader', 'a'),
    binding('RoleBinding', 'a-leases', 'Role', 'shared-leases', 'a'),
    binding('ClusterRoleBinding', 'b-only', 'ClusterRole', 'b-only', 'b'),
    object('Deployment', 'a'),
  ];

  it('selects the namespace, the ServiceAccount, its bindings and exactly the roles they refer to', () => {
    const names = identityObjects(manifests, 'a').map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names).to.deep.equal([
      'Namespace/ns',
      'ServiceAccount/a',
      'ClusterRole/a-reader',
      'Role/shared-leases',
      'ClusterRoleBinding/a-reader',
      'RoleBinding/a-leases',
    ]);
  });
});
