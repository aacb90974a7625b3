// The sandbox itself: two real control planes with kwok workers, started in parallel, that
// schedule and "run" pods, survive an apiserver outage, and leave no process behind.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBinaries } from '../../src/sandbox/binaries.ts';
import { isAlive, type ProcessRecord } from '../../src/sandbox/procs.ts';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.ts';
import {
  applyYaml,
  getItems,
  getObject,
  kubectlOk,
  readyNodeNames,
  runningPods,
  waitFor,
} from '../e2e/helpers/index.ts';

const deployment = (name: string) => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: default
spec:
  replicas: 3
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
      - name: main
        image: registry.k8s.io/pause:3.10
        resources:
          requests: {cpu: 100m, memory: 64Mi}
`;

function inCidr(ip: string, prefix: string): boolean {
  return ip.startsWith(prefix);
}

describe('sandbox: local + remote clusters on a real control plane', function () {
  this.timeout(300_000);
  let dir: string;
  let sandbox: Sandbox | undefined;
  let records: ProcessRecord[] = [];

  before(async function () {
    this.timeout(60 * 60_000); // a cold control-plane build is long; a cached one is instant
    const binDir = await ensureBinaries();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-sandbox-test-'));
    const t0 = Date.now();
    sandbox = await startSandbox({ dir, binDir, audit: true });
    console.log(`      sandbox started in ${Date.now() - t0} ms`);
    records = [...sandbox.local.processes(), ...sandbox.remote.processes()];
  });

  after(async function () {
    this.timeout(120_000);
    await sandbox?.stop(); // no-op when the last test already stopped it
    if (dir) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('writes both kubeconfigs and a state file', function () {
    expect(fs.existsSync(path.join(dir, 'local.kubeconfig'))).to.equal(true);
    expect(fs.existsSync(path.join(dir, 'remote.kubeconfig'))).to.equal(true);
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8'));
    expect(state.clusters.local.server).to.equal(sandbox!.local.server);
    expect(state.clusters.remote.processes.map((p: ProcessRecord) => p.name)).to.include('remote/kube-apiserver');
    expect(records).to.have.length(12);
  });

  it('local cluster has worker-node-1 and worker-node-2 Ready', async function () {
    expect(await readyNodeNames(sandbox!.local)).to.deep.equal(['worker-node-1', 'worker-node-2']);
    const out = await kubectlOk(sandbox!.local, ['get', 'nodes']);
    expect(out).to.match(/worker-node-1\s+Ready/);
    expect(out).to.match(/worker-node-2\s+Ready/);
    const node = await getObject(sandbox!.local, 'node', 'worker-node-1');
    expect(node.metadata.labels).to.include({ type: 'kwok', 'kubernetes.io/hostname': 'worker-node-1' });
    expect(node.status.capacity).to.include({ cpu: '8', memory: '32Gi', pods: '110' });
  });

  it('remote cluster has three Ready nodes in three zones', async function () {
    expect(await readyNodeNames(sandbox!.remote)).to.deep.equal(['remote-node-1', 'remote-node-2', 'remote-node-3']);
    const nodes = await getItems(sandbox!.remote, 'nodes');
    const zones = nodes.map((n: any) => n.metadata.labels['topology.kubernetes.io/zone']).sort();
    expect(zones).to.deep.equal(['eu-west-a', 'eu-west-b', 'eu-west-c']);
  });

  it('runs a Deployment in local: pods Running on workers with 10.244.x.x IPs', async function () {
    const local = sandbox!.local;
    await applyYaml(local, deployment('web'));
    const pods = await waitFor(
      async () => {
        const running = await runningPods(local, 'default', 'app=web');
        return running.length === 3 ? running : undefined;
      },
      { timeoutMs: 60_000, description: '3 Running pods of deployment web in local' },
    );
    for (const p of pods) {
      expect(p.spec.nodeName).to.be.oneOf(['worker-node-1', 'worker-node-2']);
      expect(inCidr(p.status.podIP, '10.244.'), p.status.podIP).to.equal(true);
    }
    expect(new Set(pods.map((p: any) => p.status.podIP)).size).to.equal(3);
    await waitFor(
      async () => (await getObject(local, 'deployment', 'web', { namespace: 'default' }))?.status?.readyReplicas === 3,
      {
        timeoutMs: 30_000,
        description: 'deployment web to report 3 ready replicas',
      },
    );
  });

  it('runs a Deployment in remote: pods Running with 172.16.x.x IPs', async function () {
    const remote = sandbox!.remote;
    await applyYaml(remote, deployment('api'));
    const pods = await waitFor(
      async () => {
        const running = await runningPods(remote, 'default', 'app=api');
        return running.length === 3 ? running : undefined;
      },
      { timeoutMs: 60_000, description: '3 Running pods of deployment api in remote' },
    );
    for (const p of pods) {
      expect(p.spec.nodeName).to.match(/^remote-node-[123]$/);
      expect(inCidr(p.status.podIP, '172.16.'), p.status.podIP).to.equal(true);
    }
  });

  it('kwok never manages a virtual node, even one labelled type=kwok', async function () {
    const local = sandbox!.local;
    // A control node kwok must manage, created together with the virtual node: once the
    // control node is Ready, kwok has seen both.
    await applyYaml(
      local,
      `
apiVersion: v1
kind: Node
metadata:
  name: virtual-test
  labels: {liqo.io/type: virtual-node, type: kwok}
---
apiVersion: v1
kind: Node
metadata:
  name: worker-control
  labels: {type: kwok}
`,
    );
    await waitFor(async () => (await readyNodeNames(local)).includes('worker-control'), {
      timeoutMs: 30_000,
      description: 'worker-control to become Ready',
    });
    const virtual = await getObject(local, 'node', 'virtual-test');
    expect(virtual.status?.conditions ?? []).to.deep.equal([]);
    await kubectlOk(local, ['delete', 'node', 'virtual-test', 'worker-control']);
  });

  it('writes the apiserver audit log when asked to', async function () {
    const auditLog = sandbox!.local.auditLogPath!;
    expect(auditLog).to.be.a('string');
    const events = await waitFor(
      () => {
        const lines = fs
          .readFileSync(auditLog, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        const creates = lines.filter(
          (e) => e.verb === 'create' && e.objectRef?.resource === 'deployments' && e.objectRef?.name === 'web',
        );
        return creates.length > 0 ? creates : undefined;
      },
      { timeoutMs: 10_000, description: 'the audit event of creating deployment web' },
    );
    expect(events[0].user.username).to.equal('admin'); // the client cert's CN
  });

  it('starts a component, waits for its readiness URL and records it in state.json', async function () {
    const port = await sandbox!.context.freePort();
    const server = `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`;
    const comp = await sandbox!.startComponent({
      name: 'dummy',
      argv: [process.execPath, '-e', server],
      ready: { url: `http://127.0.0.1:${port}/readyz` },
    });
    records.push(comp.record);
    expect(comp.running()).to.equal(true);
    const state = JSON.parse(fs.readFileSync(sandbox!.stateFile, 'utf8'));
    expect(state.components.map((c: any) => c.name)).to.deep.equal(['dummy']);
    expect(state.components[0].process.pid).to.equal(comp.record.pid);
  });

  it('survives an apiserver outage (stopApiserver / startApiserver)', async function () {
    const remote = sandbox!.remote;
    await remote.stopApiserver();
    expect(remote.apiserverRunning()).to.equal(false);
    const down = await remote.kubectl(['get', 'nodes', '--request-timeout=2s']);
    expect(down.code).to.not.equal(0);
    await remote.startApiserver();
    expect((await runningPods(remote, 'default', 'app=api')).length).to.equal(3);
    expect(await readyNodeNames(remote)).to.have.length(3);
  });

  it('stop() leaves no process behind', async function () {
    const all = [...records, ...sandbox!.local.processes(), ...sandbox!.remote.processes()];
    await sandbox!.stop();
    const alive = all.filter((r) => isAlive(r.pid));
    expect(alive.map((r) => `${r.name}(${r.pid})`)).to.deep.equal([]);
    expect(fs.existsSync(path.join(dir, 'state.json'))).to.equal(false);
  });
});
