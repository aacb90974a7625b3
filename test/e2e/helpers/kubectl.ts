// kubectl wrappers for e2e tests: anything with a `kubectl(args, {input})` method (a sandbox
// Cluster) works as a target.

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlTarget {
  name: string;
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
}

/** Runs kubectl and throws (with stderr) unless it exits 0; returns stdout. */
export async function kubectlOk(
  target: KubectlTarget,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  const res = await target.kubectl(args, opts);
  if (res.code !== 0) {
    throw new Error(
      `kubectl ${args.join(' ')} (${target.name}) exited ${res.code}: ${res.stderr.trim() || res.stdout.trim()}`,
    );
  }
  return res.stdout;
}

/** `kubectl <args> -o json`, parsed. */
export async function kubectlJson<T = any>(target: KubectlTarget, args: string[]): Promise<T> {
  const out = await kubectlOk(target, [...args, '-o', 'json']);
  return JSON.parse(out) as T;
}

export interface GetOptions {
  namespace?: string;
  allNamespaces?: boolean;
  selector?: string;
  fieldSelector?: string;
}

function scopeArgs(opts: GetOptions): string[] {
  return [
    ...(opts.allNamespaces ? ['--all-namespaces'] : opts.namespace ? ['-n', opts.namespace] : []),
    ...(opts.selector ? ['-l', opts.selector] : []),
    ...(opts.fieldSelector ? ['--field-selector', opts.fieldSelector] : []),
  ];
}

/** The items of `kubectl get <resource>` (e.g. "pods", "nodes", "deployments.apps"). */
export async function getItems<T = any>(target: KubectlTarget, resource: string, opts: GetOptions = {}): Promise<T[]> {
  const list = await kubectlJson<{ items: T[] }>(target, ['get', resource, ...scopeArgs(opts)]);
  return list.items ?? [];
}

/** One object, or undefined when it does not exist. */
export async function getObject<T = any>(
  target: KubectlTarget,
  resource: string,
  name: string,
  opts: { namespace?: string } = {},
): Promise<T | undefined> {
  const res = await target.kubectl(['get', resource, name, ...scopeArgs(opts), '-o', 'json']);
  if (res.code === 0) return JSON.parse(res.stdout) as T;
  if (/NotFound|not found/.test(res.stderr)) return undefined;
  throw new Error(`kubectl get ${resource} ${name} (${target.name}) exited ${res.code}: ${res.stderr.trim()}`);
}

/** `kubectl apply -f -` with the given (multi-document) YAML; returns kubectl's stdout. */
export function applyYaml(
  target: KubectlTarget,
  yamlText: string,
  opts: { namespace?: string; serverSide?: boolean } = {},
): Promise<string> {
  return kubectlOk(
    target,
    [
      'apply',
      ...(opts.serverSide ? ['--server-side'] : []),
      ...(opts.namespace ? ['-n', opts.namespace] : []),
      '-f',
      '-',
    ],
    { input: yamlText },
  );
}

/** `kubectl delete -f - --ignore-not-found` with the given YAML. */
export function deleteYaml(
  target: KubectlTarget,
  yamlText: string,
  opts: { namespace?: string; wait?: boolean } = {},
): Promise<string> {
  return kubectlOk(
    target,
    [
      'delete',
      '--ignore-not-found',
      `--wait=${opts.wait ?? true}`,
      ...(opts.namespace ? ['-n', opts.namespace] : []),
      '-f',
      '-',
    ],
    { input: yamlText },
  );
}

/** Nodes whose Ready condition is True, by name. */
export async function readyNodeNames(target: KubectlTarget): Promise<string[]> {
  const nodes = await getItems(target, 'nodes');
  return nodes
    .filter((n: any) => (n.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'))
    .map((n: any) => n.metadata.name as string)
    .sort();
}

/** Pods matching the selector that are Running with a pod IP. */
export async function runningPods(target: KubectlTarget, namespace: string, selector?: string): Promise<any[]> {
  const pods = await getItems(target, 'pods', { namespace, ...(selector ? { selector } : {}) });
  return pods.filter((p: any) => p.status?.phase === 'Running' && p.status?.podIP && !p.metadata?.deletionTimestamp);
}
