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

/** Starts agnhost with the pair in certDir, or says why it cannot. */
export async function startAgnhostPeer(options: { certDir: string; logDir: string }): Promise<PeerResult> {
  // A computed specifier: the module is written separately and may not be there yet.
  const specifier = './agnhost.ts';
  let module: Record<string, unknown>;
  try {
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    const missing =
      (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && /agnhost\.ts' imported from/.test(String(error));
    if (missing) return { reason: 'bench/lib/agnhost.ts is not written yet' };
    return { reason: `bench/lib/agnhost.ts cannot be loaded (${(error as Error).message.split('\n')[0]})` };
  }
  const start = module.startAgnhost;
  if (typeof start !== 'function') return { reason: 'bench/lib/agnhost.ts exports no startAgnhost()' };
  try {
    const server = (await start(options)) as ServerProcess;
    return { peer: { server, path: '/mutating-pods-sidecar', describe: 'agnhost webhook' } };
  } catch (error) {
    return { reason: (error as Error).message.split('\n')[0] as string };
  }
}
