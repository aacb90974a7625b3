// The streams an apiserver holds open for pods' subresources (log, exec, attach, portforward),
// from its apiserver_longrunning_requests gauge: how a test sees that a stream through the
// virtual node really reached the remote cluster, and that it closed again.

/** Anything that can GET the apiserver's /metrics as an admin (a sandbox Cluster). */
export interface MetricsSource {
  api(method: string, apiPath: string): Promise<{ status: number; body: unknown }>;
}

export type PodSubresource = 'log' | 'exec' | 'attach' | 'portforward';

/** Open long-running requests on pods/<subresource>, all verbs. */
export async function openPodStreams(cluster: MetricsSource, subresource: PodSubresource): Promise<number> {
  const res = await cluster.api('GET', '/metrics');
  if (res.status !== 200 || typeof res.body !== 'string') throw new Error(`GET /metrics: HTTP ${res.status}`);
  let sum = 0;
  for (const line of res.body.split('\n')) {
    if (!line.startsWith('apiserver_longrunning_requests{')) continue;
    if (!line.includes('resource="pods"') || !line.includes(`subresource="${subresource}"`)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
