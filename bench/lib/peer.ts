// The peer of the admission rows: Kubernetes' agnhost admission webhook (Go), built into the
// control-plane cache and started by ./agnhost.ts, serving the same certificate. When it cannot
// run (say, the binary cannot be built) the peer rows say why and carry no number.
import { AGNHOST_REVIEW_PATH, startAgnhost } from './agnhost.ts';
import type { ServerProcess } from './process.ts';

export interface Peer {
  server: ServerProcess;
  /** The URL path the same placement review is posted to. */
  path: string;
  describe: string;
}

export type PeerResult = { peer: Peer } | { reason: string };

/** Starts agnhost with the pair in certDir (on `cpu` from its start, when given), or says why it cannot. */
export async function startAgnhostPeer(options: {
  certDir: string;
  logDir: string;
  cpu?: number;
}): Promise<PeerResult> {
  try {
    // Builds the binary first if the control-plane cache lacks it (progress on stderr).
    const server = await startAgnhost(options);
    return { peer: { server, path: AGNHOST_REVIEW_PATH, describe: server.describe } };
  } catch (error) {
    return { reason: (error as Error).message.split('\n')[0] as string };
  }
}
