// Which nodes kwok plays (kwok.ts MANAGED_NODE_SELECTOR): only their pods reach the pod server
// through kwok's port-forward. A pod on a virtual node is served by its provider instead.
import { KWOK_NODE_LABEL, VIRTUAL_NODE_LABEL } from '../kwok.ts';
import type { ApiClient } from './api.ts';

const TTL_MS = 30_000;

export function isKwokNode(labels: Record<string, string> | undefined): boolean {
  return (
    labels?.[KWOK_NODE_LABEL.key] === KWOK_NODE_LABEL.value &&
    labels[VIRTUAL_NODE_LABEL.key] !== VIRTUAL_NODE_LABEL.value
  );
}

export class KwokNodes {
  readonly #api: ApiClient;
  readonly #known = new Map<string, { kwok: boolean; until: number }>();

  constructor(api: ApiClient) {
    this.#api = api;
  }

  /** Whether kwok plays the node (looked up, then remembered for a while). */
  async plays(nodeName: string): Promise<boolean> {
    const known = this.#known.get(nodeName);
    if (known && known.until > Date.now()) return known.kwok;
    const res = await this.#api.request('GET', `/api/v1/nodes/${encodeURIComponent(nodeName)}`);
    if (res.status !== 200) throw new Error(`node ${nodeName}: HTTP ${res.status}`);
    const kwok = isKwokNode(res.body?.metadata?.labels);
    this.#known.set(nodeName, { kwok, until: Date.now() + TTL_MS });
    return kwok;
  }
}
