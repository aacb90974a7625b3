// The pods the pod server answers for. Every pod bound to a node kwok plays, not finished, with
// declared TCP container ports gets one listener per port and a kwok PortForward object (named after
// the pod, owned by it) that sends kwok's port-forward for those ports to the listeners.
// Pods without declared ports cost nothing: the shared listener answers for them.
import type { ApiClient } from './api.ts';
import type { ResponderHooks } from './responder.ts';
import { PodListener, type ConnectionCounts } from './listeners.ts';
import type { KwokNodes } from './nodes.ts';

export interface PodObject {
  metadata: { name: string; namespace: string; uid: string; deletionTimestamp?: string };
  spec?: { nodeName?: string; containers?: { ports?: { containerPort: number; protocol?: string }[] }[] };
  status?: { phase?: string; podIP?: string };
}

const FIELD_MANAGER = 'sandbox-pod-server';
const PORT_FORWARDS = 'apis/kwok.x-k8s.io/v1alpha1';

export function podKey(pod: PodObject): string {
  return `${pod.metadata.namespace}/${pod.metadata.name}`;
}

/** The pod's declared TCP container ports, sorted, each once. */
export function declaredPorts(pod: PodObject): number[] {
  const ports = (pod.spec?.containers ?? []).flatMap((container) => container.ports ?? []);
  const tcp = ports.filter((port) => (port.protocol ?? 'TCP') === 'TCP').map((port) => port.containerPort);
  return [...new Set(tcp)].sort((a, b) => a - b);
}

/** Bound to a node, not finished, not being deleted, with ports: it gets listeners. */
export function wantsListeners(pod: PodObject): boolean {
  const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
  return !!pod.spec?.nodeName && !finished && !pod.metadata.deletionTimestamp && declaredPorts(pod).length > 0;
}

interface PodEntry {
  uid: string;
  listeners: Map<number, PodListener>;
  /** Whether the PortForward object is known to be in place. */
  forwarded: boolean;
}

export interface PodsOptions {
  cluster: string;
  api: ApiClient;
  nodes: KwokNodes;
  hooks: ResponderHooks;
  log: (line: string) => void;
}

export class Pods {
  readonly #options: PodsOptions;
  readonly #entries = new Map<string, PodEntry>();
  /** One chain of work per pod, so its events are handled in order. */
  readonly #work = new Map<string, Promise<void>>();

  constructor(options: PodsOptions) {
    this.#options = options;
  }

  /** Brings a pod's listeners and PortForward in line with the pod (an ADDED or MODIFIED event). */
  upsert(pod: PodObject): Promise<void> {
    return this.#enqueue(podKey(pod), () => this.#reconcile(pod));
  }

  /** The pod is gone (a DELETED event). */
  remove(key: string): Promise<void> {
    return this.#enqueue(key, () => this.#forget(key, true));
  }

  /** After a relist: every listed pod is upserted, every other one removed. */
  async resync(pods: PodObject[]): Promise<void> {
    const listed = new Set(pods.map(podKey));
    const gone = [...this.#entries.keys()].filter((key) => !listed.has(key));
    await Promise.all([...pods.map((pod) => this.upsert(pod)), ...gone.map((key) => this.remove(key))]);
  }

  connections(): Record<string, Record<string, ConnectionCounts>> {
    const out: Record<string, Record<string, ConnectionCounts>> = {};
    for (const [key, entry] of this.#entries) {
      out[key] = Object.fromEntries([...entry.listeners].map(([port, listener]) => [String(port), listener.counts]));
    }
    return out;
  }

  closeAll(): void {
    for (const entry of this.#entries.values()) for (const listener of entry.listeners.values()) listener.close();
    this.#entries.clear();
  }

  #enqueue(key: string, task: () => Promise<void>): Promise<void> {
    const next = (this.#work.get(key) ?? Promise.resolve()).then(task).catch((err: Error) => {
      this.#options.log(`${key}: ${err.message}`);
    });
    this.#work.set(key, next);
    void next.then(() => {
      if (this.#work.get(key) === next) this.#work.delete(key);
    });
    return next;
  }

  async #reconcile(pod: PodObject): Promise<void> {
    const key = podKey(pod);
    const entry = this.#entries.get(key);
    if (!(await this.#served(pod))) return this.#forget(key, !!entry);
    if (entry && entry.uid !== pod.metadata.uid) await this.#forget(key, false);
    const current = this.#entries.get(key) ?? (await this.#open(pod));
    for (const listener of current.listeners.values()) {
      listener.identity.podIP = pod.status?.podIP;
      listener.identity.nodeName = pod.spec?.nodeName;
    }
    if (!current.forwarded) current.forwarded = await this.#applyPortForward(pod, current);
  }

  async #served(pod: PodObject): Promise<boolean> {
    return wantsListeners(pod) && this.#options.nodes.plays(pod.spec?.nodeName ?? '');
  }

  async #open(pod: PodObject): Promise<PodEntry> {
    const entry: PodEntry = { uid: pod.metadata.uid, listeners: new Map(), forwarded: false };
    for (const port of declaredPorts(pod)) {
      const identity = {
        cluster: this.#options.cluster,
        namespace: pod.metadata.namespace,
        name: pod.metadata.name,
        port,
      };
      const listener = new PodListener(identity, this.#options.hooks);
      await listener.listen();
      entry.listeners.set(port, listener);
    }
    this.#entries.set(podKey(pod), entry);
    return entry;
  }

  async #forget(key: string, deleteForward: boolean): Promise<void> {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    for (const listener of entry.listeners.values()) listener.close();
    if (deleteForward) await this.#deletePortForward(key);
  }

  async #applyPortForward(pod: PodObject, entry: PodEntry): Promise<boolean> {
    const { namespace, name, uid } = pod.metadata;
    const forwards = [...entry.listeners].map(([port, listener]) => ({
      ports: [port],
      target: { address: '127.0.0.1', port: listenerPort(listener) },
    }));
    const object = {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'PortForward',
      metadata: { name, namespace, ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name, uid }] },
      spec: { forwards },
    };
    const query = `fieldManager=${FIELD_MANAGER}&force=true`;
    const path = `/${PORT_FORWARDS}/namespaces/${namespace}/portforwards/${name}?${query}`;
    const res = await this.#options.api.request('PATCH', path, object, 'application/apply-patch+yaml');
    if (res.status === 200 || res.status === 201) return true;
    this.#options.log(
      `${namespace}/${name}: PortForward: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`,
    );
    return false;
  }

  async #deletePortForward(key: string): Promise<void> {
    const [namespace, name] = key.split('/');
    const res = await this.#options.api.request(
      'DELETE',
      `/${PORT_FORWARDS}/namespaces/${namespace}/portforwards/${name}`,
    );
    if (res.status >= 300 && res.status !== 404) this.#options.log(`${key}: deleting PortForward: HTTP ${res.status}`);
  }
}

function listenerPort(listener: PodListener): number {
  if (listener.port === undefined) throw new Error('listener not listening');
  return listener.port;
}
