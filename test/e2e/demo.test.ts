// e2e: the demo scenario (`npm run demo`) on a fresh sandbox with kube-offload running: the
// demo command itself is run against the sandbox, then the end state is checked on both
// clusters. Polls with deadlines, no fixed sleeps.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { kubeOffloadComponents } from '../../src/dev/components.ts';
import { twinNamespaceName } from '../../src/common/twin.ts';
import { SANDBOX_CLUSTER_NAME, SANDBOX_VIRTUAL_NODE } from '../../src/dev/virtual-node.ts';
import { ENABLED_LABEL, ORIGIN_UID_ANNOTATION } from '../../webhooks/keys.ts';
import { getItems, useSandbox, waitFor } from './helpers/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NS = 'boutique';
const TWIN = twinNamespaceName(NS, SANDBOX_CLUSTER_NAME);
const MANIFEST = path.join(ROOT, 'demo', 'boutique.yaml');

interface Obj {
  kind?: string;
  metadata: {
    name: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec?: { nodeName?: string; replicas?: number };
  status?: { phase?: string; podIP?: string; hostIP?: string };
}

const manifestObjects = (): Obj[] =>
  parseAllDocuments(fs.readFileSync(MANIFEST, 'utf8'))
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => !!o);

function runDemo(dir: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', path.join(ROOT, 'src/cli.ts'), 'demo', '--dir', dir],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
  });
}

describe('demo: the micro-service shop across two clusters (e2e)', function () {
  this.timeout(300_000);
  const env = useSandbox({ components: kubeOffloadComponents });
  let output = '';

  const localPods = async (): Promise<Obj[]> =>
    (await getItems<Obj>(env.sandbox.local, 'pods', { namespace: NS })).filter(
      (p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Failed',
    );
  const appOf = (p: Obj): string => p.metadata.labels?.app ?? '';

  before(async function () {
    this.timeout(240_000);
    const result = await runDemo(env.sandbox.dir);
    output = result.stdout;
    if (result.code !== 0) throw new Error(`demo exited ${result.code}\n${result.stderr}\n${result.stdout}`);
    process.stderr.write(`      demo command: ${(result.ms / 1000).toFixed(1)} s on a running sandbox\n`);
  });

  it('opted the namespace in and printed where every pod runs and what was replicated', async () => {
    const ns = (await getItems<Obj>(env.sandbox.local, 'namespaces')).find((n) => n.metadata.name === NS);
    expect(ns?.metadata.labels?.[ENABLED_LABEL]).to.equal('true');
    expect(output)
      .to.match(/worker-node-\d/)
      .and.match(/10\.244\.\d+\.\d+/);
    expect(output)
      .to.include(SANDBOX_VIRTUAL_NODE)
      .and.match(/172\.16\.\d+\.\d+/);
    expect(output)
      .to.include(`-n ${TWIN} get services,configmaps,secrets`)
      .and.include('configmap/boutique-config')
      .and.include('secret/payment-credentials');
    expect(output).to.include('npx kube-offload sandbox down');
  });

  it('runs every pod of every Deployment', async () => {
    const deployments = manifestObjects().filter((o) => o.kind === 'Deployment');
    const pods = await localPods();
    for (const d of deployments) {
      const mine = pods.filter((p) => appOf(p) === d.metadata.name);
      expect(mine, d.metadata.name).to.have.length(d.spec?.replicas ?? 1);
      for (const p of mine) expect(p.status?.phase, p.metadata.name).to.equal('Running');
    }
  });

  it('respects the placement annotations', async () => {
    const pods = await localPods();
    const placement = new Map(
      manifestObjects()
        .filter((o) => o.kind === 'Deployment')
        .map((d) => [d.metadata.name, d.metadata.annotations?.['kube-offload.io/placement']]),
    );
    let remote = 0;
    for (const p of pods) {
      const where = placement.get(appOf(p));
      if (where === 'Local') {
        expect(p.spec?.nodeName, p.metadata.name).to.match(/^worker-node-/);
        expect(p.status?.podIP).to.match(/^10\.244\./);
      }
      if (where === 'Remote') {
        expect(p.spec?.nodeName, p.metadata.name).to.equal(SANDBOX_VIRTUAL_NODE);
        expect(p.status?.podIP).to.match(/^172\.16\./);
        remote++;
      }
    }
    expect(remote).to.be.greaterThanOrEqual(3); // currency, email, payment
    // Every pod on the virtual node has exactly one remote twin made for it.
    const remotePods = await getItems<Obj>(env.sandbox.remote, 'pods', { namespace: TWIN });
    for (const p of pods.filter((x) => x.spec?.nodeName === SANDBOX_VIRTUAL_NODE)) {
      const twins = remotePods.filter((r) => r.metadata.name === p.metadata.name);
      expect(twins, p.metadata.name).to.have.length(1);
      expect(twins[0]?.metadata.annotations?.[ORIGIN_UID_ANNOTATION]).to.equal(p.metadata.uid);
      expect(twins[0]?.status?.podIP).to.equal(p.status?.podIP);
    }
  });

  it('replicated every Service, the ConfigMap and the Secret into the twin namespace', async () => {
    const objects = manifestObjects().filter((o) => ['Service', 'ConfigMap', 'Secret'].includes(o.kind ?? ''));
    for (const kind of ['Service', 'ConfigMap', 'Secret']) {
      const remote = (await getItems<Obj>(env.sandbox.remote, `${kind.toLowerCase()}s`, { namespace: TWIN })).map(
        (o) => o.metadata.name,
      );
      for (const o of objects.filter((x) => x.kind === kind))
        expect(remote, `${kind} ${o.metadata.name}`).to.include(o.metadata.name);
    }
  });

  it('a deleted pod (offloaded by the scheduler) is rescheduled and Running again', async () => {
    const before = await localPods();
    const victim =
      before.find((p) => p.spec?.nodeName === SANDBOX_VIRTUAL_NODE && appOf(p) === 'cartservice') ??
      before.find((p) => p.spec?.nodeName === SANDBOX_VIRTUAL_NODE);
    expect(victim, 'an offloaded pod').to.not.equal(undefined);
    const app = appOf(victim!);
    const r = await env.sandbox.local.kubectl(['-n', NS, 'delete', 'pod', victim!.metadata.name, '--wait=false']);
    expect(r.code, r.stderr).to.equal(0);
    await waitFor(
      async () => {
        const now = await localPods();
        const gone = !now.some((p) => p.metadata.name === victim!.metadata.name);
        const replacement = now.find((p) => appOf(p) === app && p.metadata.name !== victim!.metadata.name);
        return gone && replacement?.status?.phase === 'Running' && !!replacement.status.podIP;
      },
      { timeoutMs: 60_000, description: `the ${app} pod to be replaced and Running` },
    );
    await waitFor(
      async () =>
        !(await getItems<Obj>(env.sandbox.remote, 'pods', { namespace: TWIN })).some(
          (p) => p.metadata.name === victim!.metadata.name,
        ),
      {
        description: 'its remote pod to be gone',
      },
    );
  });
});
