// The backend for pods that run in another cluster: logs, exec, attach and port-forward go to
// that cluster's apiserver with its credentials. Which remote pod a local one is, and whether
// it is bound to this node at all, is the caller's knowledge (`resolvePod`). Stats and resource
// metrics come from the remote's PodMetrics when the caller says which pods are bound (`stats`).
import type { KubeletBackend, RemotePodTarget } from './backend.ts';
import { remoteStats } from './metrics/remote-stats.ts';
import type { RemoteStatsOptions } from './metrics/remote-stats.ts';
import { openRemoteAttach, openRemoteExec } from './upstream/exec.ts';
import { openRemoteLogs } from './upstream/logs.ts';
import type { LogStreamer } from './upstream/logs.ts';
import { openRemotePortForward } from './upstream/portforward.ts';
import { podSubresourcePath } from './upstream/remote-api.ts';
import { dialRemoteSpdy } from './upstream/spdy-dial.ts';
import type { RemoteApi } from './upstream/remote-api.ts';

export interface RemoteClusterBackendOptions {
  /** The remote apiserver for the streaming subresources (exec, attach, portforward). */
  remote: RemoteApi;
  /** A client of the same apiserver for logs (a KubeClient). */
  logs: LogStreamer;
  resolvePod(namespace: string, name: string): Promise<RemotePodTarget | undefined>;
  /** After a forwarded connection's client stops sending, how long the pod may stay quiet. */
  halfCloseLingerMs?: number;
  /** Serve /stats/summary and /metrics/resource from the remote's PodMetrics; absent: empty ones. */
  stats?: Omit<RemoteStatsOptions, 'resolvePod'>;
}

export function remoteClusterBackend(options: RemoteClusterBackendOptions): KubeletBackend {
  const { remote } = options;
  const linger = options.halfCloseLingerMs === undefined ? {} : { halfCloseLingerMs: options.halfCloseLingerMs };
  const stats = options.stats ? remoteStats({ ...options.stats, resolvePod: options.resolvePod }) : {};
  return {
    ...stats,
    resolvePod: (namespace, name) => options.resolvePod(namespace, name),
    logs: (target, container, query, signal) => openRemoteLogs(options.logs, target, container, query, signal),
    exec: (target, container, exec, signal) => openRemoteExec(remote, target, container, exec, signal),
    attach: (target, container, streams, signal) => openRemoteAttach(remote, target, container, streams, signal),
    portForward: (target, port, signal) => openRemotePortForward(remote, target, port, signal, linger),
    portForwardUpgrade: (target, protocols, signal) => {
      const path = podSubresourcePath(target.namespace, target.name, 'portforward');
      return dialRemoteSpdy(remote, path, new URLSearchParams(), protocols, signal);
    },
  };
}
