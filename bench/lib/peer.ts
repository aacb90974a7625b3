// The peer of the admission rows: Kubernetes' agnhost admission webhook (Go), built into the
// control-plane cache and started by ./agnhost.ts, serving the same certificate. When it cannot
// run (the module or the binary is missing) the peer rows say why and carry no number.
import type { ServerProcess } from './process.ts';

export interface Peer {
  server: ServerProcess;
  /** The URL path the same placement review is posted to. */
  path: string;
  describe: string;
}

export type PeerResult = { peer: Peer } | { reason: string };

interface AgnhostModule {
  AGNHOST_REVIEW_PATH?: string;
  startAgnhost?: (options: {
    certDir: string;
    logDir: string;
    cpu?: number;
  }) => Promise<ServerProcess & { describe?: string }>;
}

async function loadAgnhost(): Promise<AgnhostModule | string> {
  // A computed specifier: the module is written separately and may not be there yet.
  const specifier = './agnhost.ts';
  try {
    return (await import(specifier)) as AgnhostModule;
  } catch (error) {
    const missing =
      (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && /agnhost\.ts' imported from/.test(String(error));
    if (missing) return 'bench/lib/agnhost.ts is not written yet';
    return `bench/lib/agnhost.ts cannot be loaded (${(error as Error).message.split('\n')[0]})`;
  }
}

/** Starts agnhost with the pair in certDir (on `cpu` when given), or says why it cannot. */
export async function startAgnhostPeer(options: {
  certDir: string;
  logDir: string;
  cpu?: number;
}): Promise<PeerResult> {
  const module = await loadAgnhost();
  if (typeof module === 'string') return { reason: module };
  if (typeof module.startAgnhost !== 'function') return { reason: 'bench/lib/agnhost.ts exports no startAgnhost()' };
  try {
    // Builds the binary first if the control-plane cache lacks it (progress on stderr).
    const server = await module.startAgnhost(options);
    const path = module.AGNHOST_REVIEW_PATH ?? '/mutating-pods-sidecar';
    return { peer: { server, path, describe: server.describe ?? 'agnhost webhook' } };
  } catch (error) {
    return { reason: (error as Error).message.split('\n')[0] as string };
  }
}
