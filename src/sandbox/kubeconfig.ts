// Kubeconfig files with embedded credentials, so each file is self-contained and can be
// copied or handed to another process as is.
import fs from 'node:fs';
import { stringify } from 'yaml';

export interface KubeconfigSpec {
  clusterName: string;
  server: string;
  caCert: string;
  user: string;
  clientCert: string;
  clientKey: string;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

export function renderKubeconfig(spec: KubeconfigSpec): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: spec.clusterName, cluster: { server: spec.server, 'certificate-authority-data': b64(spec.caCert) } },
    ],
    users: [
      {
        name: spec.user,
        user: { 'client-certificate-data': b64(spec.clientCert), 'client-key-data': b64(spec.clientKey) },
      },
    ],
    contexts: [{ name: spec.clusterName, context: { cluster: spec.clusterName, user: spec.user } }],
    'current-context': spec.clusterName,
    preferences: {},
  });
}

export function writeKubeconfig(file: string, spec: KubeconfigSpec): string {
  fs.writeFileSync(file, renderKubeconfig(spec), { mode: 0o600 });
  return file;
}
