// The one place that says which kube-offload processes the sandbox hosts. The harness in
// src/sandbox/ starts whatever list it is given and knows none of them (as envtest knows no
// controller); `kube-offload sandbox up`, `kube-offload demo`, the e2e tests and the benchmarks
// pass this list, or a part of it.
import type { ComponentSpec, SandboxContext } from '../sandbox/components.ts';
import { syncerComponent } from './syncer.ts';
import { virtualNodeComponent } from './virtual-node.ts';
import { webhookComponent } from './webhook.ts';

/** The webhook (and its configurations), then the syncer, then the virtual node provider. */
export async function kubeOffloadComponents(ctx: SandboxContext): Promise<ComponentSpec[]> {
  return [await webhookComponent(ctx), await syncerComponent(ctx), await virtualNodeComponent(ctx)];
}
