// Where each workload kind keeps its pod template, so the workload and validating webhooks
// agree on it. CronJob nests it one level deeper, under its Job template.

import type { JsonRecord } from './k8s.ts';
import { getPath, isRecord } from './k8s.ts';

export interface WorkloadKind {
  group: string;
  /** Path from the object root to the PodTemplateSpec. */
  templatePath: readonly string[];
}

export const WORKLOAD_KINDS: Readonly<Record<string, WorkloadKind>> = {
  Deployment: { group: 'apps', templatePath: ['spec', 'template'] },
  StatefulSet: { group: 'apps', templatePath: ['spec', 'template'] },
  ReplicaSet: { group: 'apps', templatePath: ['spec', 'template'] },
  DaemonSet: { group: 'apps', templatePath: ['spec', 'template'] },
  Job: { group: 'batch', templatePath: ['spec', 'template'] },
  CronJob: { group: 'batch', templatePath: ['spec', 'jobTemplate', 'spec', 'template'] },
};

/** The workload kind of a request's group/kind, or undefined for anything else. */
export function workloadKind(kind: { group?: string; kind?: string } | undefined): WorkloadKind | undefined {
  const known = kind?.kind && Object.hasOwn(WORKLOAD_KINDS, kind.kind) ? WORKLOAD_KINDS[kind.kind] : undefined;
  return known && known.group === kind?.group ? known : undefined;
}

/** The pod template object of a workload, or undefined when missing or not an object. */
export function podTemplateOf(object: unknown, kind: WorkloadKind): JsonRecord | undefined {
  const template = getPath(object, kind.templatePath);
  return isRecord(template) ? template : undefined;
}
