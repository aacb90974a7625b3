// Generates the Helm chart charts/kube-offload from kustomize builds (see render-install.ts), so
// the chart cannot drift from manifests/:
// - every object of the base becomes a template; its install-specific fields become values
//   (image, replicas, resources, extra args, priorityClassName, cluster and remote names);
// - objects a component adds are wrapped in `if .Values.<component>.enabled`;
// - an object a component changes (cert-manager: the webhook Deployment and configurations)
//   gets both versions, the component's under its `if`;
// - values.yaml holds the defaults read from the same builds, so `helm template` with them is
//   the default install (deploy/install.yaml) minus the Namespace (namespace.create=false:
//   Helm releases usually get their namespace from `--create-namespace`).
import { stringify } from 'yaml';
import type { KubeObject, RenderedFile } from './render-install.ts';

export interface Variant {
  /** Component directory name under manifests/components. */
  name: string;
  /** Its values key: .Values.<value>.enabled. */
  value: string;
  inDefault: boolean;
  /** The base built with this component. */
  objects: KubeObject[];
}

const keyOf = (o: KubeObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Deployment name → values key. */
const COMPONENT_OF: Record<string, string> = {
  'kube-offload-webhook': 'webhook',
  'kube-offload-syncer': 'syncer',
  'kube-offload-virtual-node': 'virtualNode',
};
const CONFIG_MAP = 'kube-offload-config';
const VIRTUAL_NODE_LEASE_PREFIX = 'kube-offload-virtual-node-';
const OPEN_CIDR = '0.0.0.0/0';

/** What a placeholder becomes: a scalar in place, or lines replacing the line `key: <placeholder>`. */
type Substitution =
  { type: 'scalar'; text: string } | { type: 'block'; lines: (keyLine: string, indent: number) => string[] };

class Template {
  readonly subs = new Map<string, Substitution>();

  scalar(text: string): string {
    return this.#add({ type: 'scalar', text });
  }

  block(lines: (keyLine: string, indent: number) => string[]): string {
    return this.#add({ type: 'block', lines });
  }

  #add(sub: Substitution): string {
    const token = `__HELM_${this.subs.size}__`;
    this.subs.set(token, sub);
    return token;
  }

  /** YAML of `object` with Go template delimiters escaped, then the placeholders filled in. */
  render(object: KubeObject): string {
    const text = stringify(object, { version: '1.1', lineWidth: 0, minContentWidth: 0 })
      .replace(/\{\{|\}\}/g, (m) => (m === '{{' ? '{{ "{{" }}' : '{{ "}}" }}'))
      .trimEnd();
    const lines: string[] = [];
    for (const line of text.split('\n')) {
      const block = /^(\s*)(- )?([^\s:]+): (__HELM_\d+__)$/.exec(line);
      const sub = block ? this.subs.get(block[4] ?? '') : undefined;
      if (block && sub?.type === 'block') {
        const indent = (block[1] ?? '').length + (block[2] ? 2 : 0);
        lines.push(...sub.lines(`${block[1]}${block[2] ?? ''}${block[3]}:`, indent));
        continue;
      }
      lines.push(line.replace(/__HELM_\d+__/g, (token) => (this.subs.get(token) as { text: string }).text));
    }
    return lines.join('\n');
  }
}

const pad = (n: number): string => ' '.repeat(n);

/** The default image, split at its tag. */
function splitImage(image: string): { repository: string; tag: string } {
  const at = image.lastIndexOf(':');
  if (at <= image.lastIndexOf('/')) throw new Error(`image ${image} has no tag`);
  return { repository: image.slice(0, at), tag: image.slice(at + 1) };
}

interface Defaults {
  image: { repository: string; tag: string; pullPolicy: string };
  clusterName: string;
  priorityClassName: string;
  components: Record<string, { replicas: number; resources: unknown }>;
}

function deploymentSpec(object: KubeObject): {
  replicas: number;
  template: { spec: { priorityClassName?: string; containers: Array<Record<string, unknown>> } };
} {
  return object.spec as ReturnType<typeof deploymentSpec>;
}

function readDefaults(base: KubeObject[]): Defaults {
  const deployments = base.filter((o) => o.kind === 'Deployment');
  const first = deploymentSpec(deployments[0] as KubeObject).template.spec.containers[0] as Record<string, string>;
  const config = base.find((o) => o.kind === 'ConfigMap' && o.metadata.name === CONFIG_MAP);
  const data = (config?.data ?? {}) as Record<string, string>;
  if (!data['cluster-name']) throw new Error(`${CONFIG_MAP} lacks cluster-name`);
  const classes = new Set(deployments.map((d) => deploymentSpec(d).template.spec.priorityClassName).filter(Boolean));
  if (classes.size !== 1) throw new Error(`the Deployments use several priority classes: ${[...classes].join(', ')}`);
  const components: Defaults['components'] = {};
  for (const deployment of deployments) {
    const key = COMPONENT_OF[deployment.metadata.name];
    if (!key) throw new Error(`no values key for Deployment ${deployment.metadata.name}`);
    const spec = deploymentSpec(deployment);
    const container = spec.template.spec.containers[0] as Record<string, unknown>;
    if (container.image !== first.image) throw new Error(`${deployment.metadata.name} uses another image`);
    components[key] = { replicas: spec.replicas, resources: container.resources ?? {} };
  }
  return {
    image: { ...splitImage(first.image ?? ''), pullPolicy: first.imagePullPolicy ?? 'IfNotPresent' },
    clusterName: data['cluster-name'],
    priorityClassName: [...classes][0] as string,
    components,
  };
}

function templatizeDeployment(object: KubeObject, t: Template, d: Defaults): void {
  const key = COMPONENT_OF[object.metadata.name] as string;
  const spec = deploymentSpec(object);
  (spec as { replicas: unknown }).replicas = t.scalar(`{{ .Values.${key}.replicas }}`);
  if (spec.template.spec.priorityClassName !== undefined) {
    spec.template.spec.priorityClassName = t.block((_line, indent) => [
      `${pad(indent)}{{- with .Values.priorityClassName }}`,
      `${pad(indent)}priorityClassName: {{ . | quote }}`,
      `${pad(indent)}{{- end }}`,
    ]);
  }
  for (const container of spec.template.spec.containers) {
    if (container.image !== `${d.image.repository}:${d.image.tag}`) continue;
    container.image = t.scalar('{{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}');
    if (container.imagePullPolicy !== undefined) container.imagePullPolicy = t.scalar('{{ .Values.image.pullPolicy }}');
    container.resources = t.block((line, indent) => [
      line,
      `${pad(indent + 2)}{{- toYaml .Values.${key}.resources | nindent ${indent + 2} }}`,
    ]);
    const args = (container.args as string[] | undefined) ?? [];
    container.args = t.block((line, indent) => [
      line,
      ...args.map((arg) => `${pad(indent + 2)}- ${JSON.stringify(arg).replace(/\{\{|\}\}/g, (m) => `{{ "${m}" }}`)}`),
      `${pad(indent + 2)}{{- range .Values.${key}.extraArgs }}`,
      `${pad(indent + 2)}- {{ . | quote }}`,
      `${pad(indent + 2)}{{- end }}`,
    ]);
  }
}

/** Peers that are exactly "anywhere": the ones networkpolicies.yaml asks users to adjust. */
function isOpenPeers(peers: unknown): boolean {
  return same(peers, [{ ipBlock: { cidr: OPEN_CIDR } }]);
}

function cidrPeers(t: Template, valuesKey: string): string {
  return t.block((line, indent) => [
    line,
    `${pad(indent + 2)}{{- if empty .Values.networkPolicy.${valuesKey} }}{{ fail "networkPolicy.${valuesKey} must list at least one CIDR" }}{{ end }}`,
    `${pad(indent + 2)}{{- range .Values.networkPolicy.${valuesKey} }}`,
    `${pad(indent + 2)}- ipBlock:`,
    `${pad(indent + 6)}cidr: {{ . | quote }}`,
    `${pad(indent + 2)}{{- end }}`,
  ]);
}

type Rule = { from?: unknown; to?: unknown; [k: string]: unknown };

/** In ingress, open peers are the apiservers; in egress the first open rule is the local apiserver, the next the remotes'. */
function templatizeNetworkPolicy(object: KubeObject, t: Template): void {
  const spec = object.spec as { ingress?: Rule[]; egress?: Rule[] };
  for (const rule of spec.ingress ?? []) {
    if (isOpenPeers(rule.from)) rule.from = cidrPeers(t, 'apiserverCIDRs');
  }
  let open = 0;
  for (const rule of spec.egress ?? []) {
    if (!isOpenPeers(rule.to)) continue;
    rule.to = cidrPeers(t, open++ === 0 ? 'apiserverCIDRs' : 'remoteAPIServerCIDRs');
  }
  for (const rule of [...(spec.ingress ?? []), ...(spec.egress ?? [])]) {
    for (const peer of ((rule.from ?? rule.to) as Array<{
      namespaceSelector?: { matchLabels?: Record<string, string> };
    }>) ?? []) {
      const labels = peer?.namespaceSelector?.matchLabels;
      if (labels?.['kubernetes.io/metadata.name'] === 'monitoring') {
        labels['kubernetes.io/metadata.name'] = t.scalar('{{ .Values.networkPolicy.monitoringNamespace | quote }}');
      }
    }
  }
}

/** Extra labels (monitoring.labels) on what Prometheus selects by label. */
function templatizeMonitoringLabels(object: KubeObject, t: Template): void {
  const labels = object.metadata.labels ?? {};
  (object.metadata as { labels: unknown }).labels = t.block((line, indent) => [
    line,
    ...stringify(labels, { version: '1.1', lineWidth: 0 })
      .trimEnd()
      .split('\n')
      .map((l) => `${pad(indent + 2)}${l}`),
    `${pad(indent + 2)}{{- with .Values.monitoring.labels }}`,
    `${pad(indent + 2)}{{- toYaml . | nindent ${indent + 2} }}`,
    `${pad(indent + 2)}{{- end }}`,
  ]);
}

/** One object as template text, with its install-specific fields turned into values. */
function templatize(source: KubeObject, d: Defaults): string {
  const object = structuredClone(source);
  const t = new Template();
  if (object.kind === 'Deployment' && COMPONENT_OF[object.metadata.name]) templatizeDeployment(object, t, d);
  if (object.kind === 'ConfigMap' && object.metadata.name === CONFIG_MAP) {
    const data = object.data as Record<string, string>;
    data['cluster-name'] = t.scalar('{{ .Values.clusterName | quote }}');
  }
  if (object.kind === 'Role' && object.metadata.name === 'kube-offload-virtual-node') {
    for (const rule of object.rules as Array<{ resourceNames?: string[] }>) {
      rule.resourceNames = rule.resourceNames?.map((name) =>
        name === `${VIRTUAL_NODE_LEASE_PREFIX}${d.clusterName}`
          ? t.scalar(`{{ printf "${VIRTUAL_NODE_LEASE_PREFIX}%s" .Values.clusterName | quote }}`)
          : name,
      );
    }
  }
  if (object.kind === 'NetworkPolicy') templatizeNetworkPolicy(object, t);
  if (object.kind === 'PodMonitor' || object.kind === 'PrometheusRule') templatizeMonitoringLabels(object, t);
  return t.render(object);
}

function fileName(object: KubeObject): string {
  return `${object.kind.toLowerCase()}-${object.metadata.name}.yaml`;
}

function valuesYaml(d: Defaults, generatedBy: string): string {
  const block = (value: unknown, indent: number): string =>
    stringify(value, { version: '1.1', lineWidth: 0 })
      .trimEnd()
      .split('\n')
      .map((l) => `${pad(indent)}${l}`)
      .join('\n');
  const component = (key: string, what: string): string => {
    const c = d.components[key] as { replicas: number; resources: unknown };
    return [
      `# ${what}`,
      `${key}:`,
      `  replicas: ${c.replicas}`,
      '  resources:',
      block(c.resources, 4),
      '  # Appended to the container args, e.g. ["--log-level=debug"].',
      '  extraArgs: []',
    ].join('\n');
  };
  return `# ${generatedBy} from manifests/: do not edit.
# The defaults render the default install (deploy/install.yaml) without its Namespace.

image:
  repository: ${d.image.repository}
  tag: ${JSON.stringify(d.image.tag)}
  pullPolicy: ${d.image.pullPolicy}

# This (local) cluster's name: twin namespaces in the remotes are <namespace>-<clusterName>.
clusterName: ${d.clusterName}
# Remotes are not values: connect each with \`kube-offload peer --name NAME\` after the install
# (the syncer and the provider follow its peer Secrets while they run). Kubeconfig files instead:
# --remote=NAME=FILE in syncer.extraArgs and virtualNode.extraArgs, and a Secret mounted at FILE
# (docs/install.md, "Remotes from files").

# Of the webhook and the virtual node provider; "" leaves it out. system-cluster-critical
# needs priorityQuota on clusters that limit critical priority classes (GKE and others).
priorityClassName: ${d.priorityClassName}

namespace:
  # Create kube-offload-system (with its Pod Security labels). Leave false with
  # helm install --create-namespace -n kube-offload-system; every object is in that namespace.
  create: false

${component('webhook', 'The admission webhook.')}

${component('syncer', 'The syncer (one active replica, the others warm standbys).')}

${component('virtualNode', 'The virtual node provider (one active replica).')}

# The ResourceQuota that allows system-cluster-critical pods outside kube-system.
priorityQuota:
  enabled: true

# The webhook's serving certificate from cert-manager (which must be installed), injected into
# the webhook configurations by cainjector, instead of the webhook's own CA.
certManager:
  enabled: false

# PodMonitors, a PrometheusRule (README, "Alerts") and a Grafana dashboard ConfigMap; needs the
# Prometheus Operator's CRDs.
monitoring:
  enabled: false
  # Added to the PodMonitors and the PrometheusRule, e.g. {release: kube-prometheus-stack}.
  labels: {}

# Ingress only from the apiservers (and Prometheus), egress only to the apiservers (and DNS).
# Narrow the CIDRs: manifests/components/network-policy/kustomization.yaml says how.
networkPolicy:
  enabled: false
  # Where the local kube-apiservers listen and connect from.
  apiserverCIDRs:
    - ${OPEN_CIDR}
  # The remote clusters' API endpoints.
  remoteAPIServerCIDRs:
    - ${OPEN_CIDR}
  # The namespace Prometheus scrapes from.
  monitoringNamespace: monitoring
`;
}

function chartYaml(version: string, appVersion: string): string {
  return `apiVersion: v2
name: kube-offload
description: Admission webhooks, syncer and virtual node provider that stretch a Kubernetes namespace across clusters
type: application
version: ${version}
appVersion: ${JSON.stringify(appVersion)}
kubeVersion: ">=1.30.0-0"
`;
}

const NOTES = `kube-offload is installed in kube-offload-system.

Connect each remote cluster (its identities from deploy/remote.yaml, a token per component, and
the peer Secrets the syncer and the virtual node provider follow here, with no restart):

  kubectl -n kube-offload-system rollout status deploy/kube-offload-webhook
  kube-offload peer --context LOCAL --remote-context REMOTE --name NAME
  kube-offload status
  kubectl label namespace NAMESPACE kube-offload.io/enabled=true
`;

/** Which components add or change which objects, relative to the base. */
function componentEffects(base: KubeObject[], variants: Variant[]) {
  const baseByKey = new Map(base.map((o) => [keyOf(o), o]));
  const added: Array<{ object: KubeObject; value: string }> = [];
  const changed = new Map<string, { object: KubeObject; value: string }>();
  for (const variant of variants) {
    const keys = new Set(variant.objects.map(keyOf));
    for (const key of baseByKey.keys()) {
      if (!keys.has(key)) throw new Error(`component ${variant.name} removes ${key}: the chart cannot express that`);
    }
    for (const object of variant.objects) {
      const original = baseByKey.get(keyOf(object));
      if (!original) added.push({ object, value: variant.value });
      else if (!same(original, object)) {
        if (changed.has(keyOf(object))) throw new Error(`${keyOf(object)} is changed by two components`);
        changed.set(keyOf(object), { object, value: variant.value });
      }
    }
  }
  return { added, changed };
}

export function chartFiles(options: {
  base: KubeObject[];
  variants: Variant[];
  version: string;
  generatedBy: string;
}): RenderedFile[] {
  const { base, variants, generatedBy } = options;
  const d = readDefaults(base);
  const header = `{{- /* ${generatedBy} from manifests/: do not edit. */}}`;
  const files: RenderedFile[] = [];
  const { added, changed } = componentEffects(base, variants);
  for (const object of base) {
    const body = templatize(object, d);
    const alternative = changed.get(keyOf(object));
    let content: string;
    if (object.kind === 'Namespace') content = `{{- if .Values.namespace.create }}\n${body}\n{{- end }}`;
    else if (alternative) {
      content = `{{- if .Values.${alternative.value}.enabled }}\n${templatize(alternative.object, d)}\n{{- else }}\n${body}\n{{- end }}`;
    } else content = body;
    files.push({ path: `templates/${fileName(object)}`, content: `${header}\n${content}\n` });
  }
  for (const { object, value } of added) {
    files.push({
      path: `templates/${fileName(object)}`,
      content: `${header}\n{{- if .Values.${value}.enabled }}\n${templatize(object, d)}\n{{- end }}\n`,
    });
  }
  const names = files.map((f) => f.path);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new Error(`two objects would share ${duplicate}`);
  return [
    { path: 'Chart.yaml', content: `# ${generatedBy}: do not edit.\n${chartYaml(options.version, d.image.tag)}` },
    { path: 'values.yaml', content: valuesYaml(d, generatedBy) },
    { path: 'templates/NOTES.txt', content: NOTES },
    ...files.sort((a, b) => a.path.localeCompare(b.path)),
  ];
}
