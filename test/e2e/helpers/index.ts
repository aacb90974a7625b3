// Reusable helpers for e2e tests on the sandbox clusters.
export { waitFor } from './wait.ts';
export type { WaitForOptions } from './wait.ts';
export {
  kubectlOk,
  kubectlJson,
  getItems,
  getObject,
  applyYaml,
  deleteYaml,
  readyNodeNames,
  runningPods,
} from './kubectl.ts';
export { useSandbox } from './sandbox.ts';
export { ComponentProcess } from './component-process.ts';
export type { ComponentProcessOptions } from './component-process.ts';
export type { SandboxHandle } from './sandbox.ts';
export type { KubectlTarget, KubectlResult, GetOptions } from './kubectl.ts';
