// What a component's Deployment (manifests/<component>/deployment.yaml) sets for the process, so a
// benchmark runs the component as the cluster would, without repeating the flags here.
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

interface EnvVar {
  name?: string;
  value?: string;
}

interface Container {
  name?: string;
  env?: EnvVar[];
}

/** The env of the Deployment's first container (or the one named `container`), literal values only. */
export function deploymentEnv(repoRoot: string, component: string, container?: string): Record<string, string> {
  const file = path.join(repoRoot, 'manifests', component, 'deployment.yaml');
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8')).map((doc) => doc.toJSON() as any);
  const deployment = docs.find((doc) => doc?.kind === 'Deployment');
  if (!deployment) throw new Error(`${file}: no Deployment`);
  const containers = (deployment.spec?.template?.spec?.containers ?? []) as Container[];
  const chosen = container ? containers.find((c) => c.name === container) : containers[0];
  if (!chosen) throw new Error(`${file}: no container ${container ?? ''}`.trim());
  const env: Record<string, string> = {};
  for (const entry of chosen.env ?? []) {
    if (entry.name !== undefined && typeof entry.value === 'string') env[entry.name] = entry.value;
  }
  return env;
}

/** The env to run a component as its image and Deployment do: compiled dist/ and the Deployment's NODE_OPTIONS. */
export function productionEnv(repoRoot: string, component: string): { env: Record<string, string>; describe: string } {
  const nodeOptions = deploymentEnv(repoRoot, component).NODE_OPTIONS;
  const describe = nodeOptions
    ? `compiled dist/, NODE_OPTIONS "${nodeOptions}" from manifests/${component}/deployment.yaml`
    : `compiled dist/; manifests/${component}/deployment.yaml sets no NODE_OPTIONS`;
  // An empty NODE_OPTIONS, not the bench's own, when the Deployment sets none.
  return { env: { KUBE_OFFLOAD_RUN: 'dist', NODE_OPTIONS: nodeOptions ?? '' }, describe };
}
