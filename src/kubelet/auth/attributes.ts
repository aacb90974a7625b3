// The authorization attributes a kubelet derives from a request (pkg/kubelet/server/auth.go,
// with KubeletFineGrainedAuthz, GA in 1.36): resource `nodes`, name = the node, verb from the
// HTTP method, subresource from the path. Paths with a fine-grained subresource (/pods,
// /healthz, /configz, /runningpods) also accept the coarse one (proxy), as the kubelet does.

export interface NodeRequestAttributes {
  verb: string;
  resource: 'nodes';
  subresource: string;
  name: string;
  path: string;
}

const VERBS: Record<string, string> = { POST: 'create', GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** `path` is `prefix` itself or below it; trailing slashes on the prefix do not matter. */
function isSubpath(path: string, prefix: string): boolean {
  const base = prefix.replace(/\/$/, '');
  return path === base || path.startsWith(`${base}/`);
}

const FINE_GRAINED: Array<[string, string]> = [
  ['/pods', 'pods'],
  ['/healthz', 'healthz'],
  ['/configz', 'configz'],
  ['/runningpods/', 'pods'],
];

const COARSE: Array<[string, string]> = [
  ['/stats/', 'stats'],
  ['/metrics', 'metrics'],
  ['/logs/', 'log'],
  ['/checkpoint/', 'checkpoint'],
  ['/statusz', 'statusz'],
  ['/flagz', 'configz'],
];

/** The subresources to check, in order; the request is allowed if any of them is. */
export function nodeSubresources(path: string): string[] {
  const fine = FINE_GRAINED.find(([prefix]) => isSubpath(path, prefix))?.[1];
  const coarse = COARSE.find(([prefix]) => isSubpath(path, prefix))?.[1] ?? 'proxy';
  return fine ? [fine, coarse] : [coarse];
}

export function nodeRequestAttributes(method: string, path: string, nodeName: string): NodeRequestAttributes[] {
  const verb = VERBS[method.toUpperCase()] ?? '';
  return nodeSubresources(path).map((subresource) => ({ verb, resource: 'nodes', subresource, name: nodeName, path }));
}
