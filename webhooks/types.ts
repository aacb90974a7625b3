// The contract between the pure admission logic (webhooks/) and the HTTP shell (src/).
// A review goes in, a verdict comes out; no I/O happens in between.

import type { Placement, Preference, VirtualNodeConvention } from './keys.ts';

/** The subset of admission.k8s.io/v1 AdmissionRequest the logic reads. */
export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  userInfo?: { username?: string; groups?: string[] };
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  dryRun?: boolean;
}

/** A Kubernetes object as plain JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
  [field: string]: unknown;
}

/** The AdmissionResponse the logic produces; the shell base64-encodes the patch. */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  /** RFC 6902 operations, present only when there is something to change. */
  patch?: JsonPatchOperation[];
  warnings?: string[];
  status?: { code: number; message: string; reason?: string };
}

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

/** The policy a namespace carries (from the informer cache), or none. */
export interface NamespacePolicy {
  placement?: string;
  clusters?: string;
  prefer?: string;
}

/** A virtual node as seen by the informer; only its labels matter for warnings. */
export interface VirtualNodeInfo {
  name: string;
  labels: Record<string, string>;
  ready: boolean;
}

/**
 * What the shell knows about the cluster, read from caches only (no API call on the hot path).
 * In --standalone mode namespaces and virtualNodes are undefined: placement then comes from
 * object annotations and the default only, and no "no matching virtual node" warning is given.
 */
export interface AdmissionContext {
  defaultPlacement: Placement;
  defaultPrefer?: Preference;
  convention: VirtualNodeConvention;
  /** Looks a namespace's policy annotations up; undefined when unknown or standalone. */
  namespacePolicy?: (namespace: string) => NamespacePolicy | undefined;
  /** The virtual nodes currently known; undefined in standalone mode. */
  virtualNodes?: () => VirtualNodeInfo[];
}

/** The signature of every webhook handler in webhooks/. */
export type AdmissionHandler = (request: AdmissionRequest, context: AdmissionContext) => AdmissionResponse;
