// kube-apiserver for one sandbox cluster: its flags (client certificates of the cluster CA, RBAC,
// service-account tokens, the front-proxy, an optional audit log), start and restart with
// readiness on /readyz, and the admin client that raw API requests go through.
import fs from 'node:fs';
import path from 'node:path';
import { poll } from '../common/async.ts';
import type { ClusterProcesses } from './cluster-processes.ts';
import type { ClusterPki } from './pki.ts';
import type { ManagedProcess } from './procs.ts';
import { isHealthy, request } from './util.ts';

export interface AuditOptions {
  /** Audit policy YAML; default: Metadata level for every request, RequestReceived stage omitted. */
  policy?: string;
  /** Default: <cluster dir>/logs/audit.log */
  logPath?: string;
}

export const DEFAULT_AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`;

export interface ApiResult {
  status: number;
  // Decoded JSON of any shape (or the raw text): callers reach into it as they need.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** A raw API request as admin; `body` is JSON-encoded, the response JSON-decoded when possible. */
export type AdminApi = (method: string, apiPath: string, body?: unknown, contentType?: string) => Promise<ApiResult>;

/** The client certificate of the admin (system:masters) and the CA to verify the apiserver with. */
export interface AdminTls {
  ca: string;
  cert: string;
  key: string;
}

// What in-cluster clients expect as the issuer (and audience) of service-account tokens.
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** How long a restarted kube-apiserver may take: the cluster's start deadline is long past then. */
const RESTART_TIMEOUT_MS = 60_000;

export interface AuditLog {
  logPath: string;
  flags: string[];
}

/** Writes the audit policy into `dir`; returns the log's path and the flags that turn it on. */
export function configureAudit(
  audit: boolean | AuditOptions | undefined,
  dir: string,
  logDir: string,
): AuditLog | undefined {
  if (!audit) return undefined;
  const settings = typeof audit === 'object' ? audit : {};
  const policyFile = path.join(dir, 'audit-policy.yaml');
  fs.writeFileSync(policyFile, settings.policy ?? DEFAULT_AUDIT_POLICY);
  const logPath = settings.logPath ?? path.join(logDir, 'audit.log');
  const flags = [
    `--audit-policy-file=${policyFile}`,
    `--audit-log-path=${logPath}`,
    '--audit-log-maxbackup=1',
    '--audit-log-maxsize=200',
  ];
  return { logPath, flags };
}

export interface ApiserverSettings {
  binDir: string;
  /** The cluster directory (for the certificates kube-apiserver writes itself). */
  dir: string;
  etcdUrl: string;
  port: number;
  pki: ClusterPki;
  serviceClusterIPRange: string;
  auditFlags: string[];
  /** Appended last, so they override ours. */
  extraArgs: string[];
}

/**
 * How the apiserver reaches kubelets (logs, exec, attach, port-forward, node proxy). The fake
 * workers publish InternalDNS localhost, where their cluster's kwok answers (their InternalIP
 * is a made-up 10.x address, the hostIP of their pods); a virtual node publishes only an
 * InternalIP, where its provider answers. The kubelet's serving certificate is not checked
 * (no --kubelet-certificate-authority), as on most clusters.
 */
export const KUBELET_PREFERRED_ADDRESS_TYPES = 'InternalDNS,InternalIP';

function kubeletClientFlags(pki: ClusterPki): string[] {
  const client = pki.clients['apiserver-kubelet-client'];
  return [
    `--kubelet-client-certificate=${client.certFile}`,
    `--kubelet-client-key=${client.keyFile}`,
    `--kubelet-preferred-address-types=${KUBELET_PREFERRED_ADDRESS_TYPES}`,
  ];
}

export function apiserverArgv(settings: ApiserverSettings): string[] {
  const { pki } = settings;
  return [
    path.join(settings.binDir, 'kube-apiserver'),
    `--etcd-servers=${settings.etcdUrl}`,
    `--bind-address=127.0.0.1`,
    `--advertise-address=127.0.0.1`,
    `--secure-port=${settings.port}`,
    `--cert-dir=${path.join(settings.dir, 'apiserver-certs')}`,
    `--tls-cert-file=${pki.apiserver.certFile}`,
    `--tls-private-key-file=${pki.apiserver.keyFile}`,
    `--client-ca-file=${pki.ca.certFile}`,
    '--authorization-mode=Node,RBAC',
    `--service-cluster-ip-range=${settings.serviceClusterIPRange}`,
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${pki.serviceAccount.publicKeyFile}`,
    `--service-account-signing-key-file=${pki.serviceAccount.privateKeyFile}`,
    // Front-proxy (aggregation layer) settings: they also fill the requestheader CA in the
    // extension-apiserver-authentication ConfigMap that controller-manager/scheduler read.
    `--requestheader-client-ca-file=${pki.ca.certFile}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${pki.clients['front-proxy-client'].certFile}`,
    `--proxy-client-key-file=${pki.clients['front-proxy-client'].keyFile}`,
    ...kubeletClientFlags(pki),
    '--allow-privileged=true',
    '--profiling=false',
    '--v=1',
    ...settings.auditFlags,
    ...settings.extraArgs,
  ];
}

export function adminTls(pki: ClusterPki): AdminTls {
  return { ca: pki.ca.cert, cert: pki.clients.admin.cert, key: pki.clients.admin.key };
}

/** /readyz answers 200 (to the admin, whose client certificate it checks) once requests are served. */
export function apiserverReady(server: string, tls: AdminTls): Promise<boolean> {
  return isHealthy(`${server}/readyz`, tls);
}

/** Starts kube-apiserver and waits for /readyz within the cluster's start deadline. */
export async function startApiserver(processes: ClusterProcesses, argv: string[], ready: () => Promise<boolean>) {
  await processes.launch('kube-apiserver', argv);
  await processes.waitReady('kube-apiserver', ready, '/readyz ok');
}

/** Starts kube-apiserver again (same flags, same port) after an outage; resolves once it is ready. */
export async function restartApiserver(
  processes: ClusterProcesses,
  argv: string[],
  ready: () => Promise<boolean>,
  clusterName: string,
): Promise<ManagedProcess> {
  const restarted = await processes.launch('kube-apiserver', argv);
  await poll(async () => (await ready()) || undefined, {
    timeoutMs: RESTART_TIMEOUT_MS,
    intervalMs: 100,
    description: `${clusterName}/kube-apiserver /readyz after restart`,
    abortIf: () => {
      if (!restarted.exitStatus()) return;
      throw new Error(`${clusterName}/kube-apiserver exited after restart:\n${restarted.logTail(25)}`);
    },
  });
  return restarted;
}

function parseJsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function adminApi(server: string, tls: AdminTls): AdminApi {
  return async (method, apiPath, body, contentType) => {
    const res = await request(`${server}${apiPath}`, {
      ...tls,
      method,
      timeoutMs: 30_000,
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      ...(contentType ? { headers: { 'content-type': contentType } } : {}),
    });
    return { status: res.status, body: parseJsonOrText(res.body) };
  };
}
