// Unit tests of the real nodes' pure parts: the address plan against the fake workers' ranges,
// the OCI archive of the images (when busybox-static is installed), and the demo's trace tree.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderTrace, type Hop } from '../../../src/dev/shop-demo.ts';
import { PRESETS } from '../../../src/sandbox/network.ts';
import { ensureImageArchive, PAUSE_IMAGE, SHOP_IMAGE } from '../../../src/sandbox/realnode/images.ts';
import { realNodeApiserverArgs, realNodePlan, WAN } from '../../../src/sandbox/realnode/plan.ts';

/** a.b.c.d/24 -> a.b.c */
const prefix24 = (cidr: string) => cidr.split('/')[0]!.split('.').slice(0, 3).join('.');

describe('real nodes: the address plan', () => {
  for (const cluster of ['local', 'remote'] as const) {
    it(`${cluster}: the real node's pod range is inside the cluster's and no fake worker's`, () => {
      const plan = realNodePlan(cluster, '/tmp/sandbox');
      expect(plan.clusterPodCIDR).to.equal(PRESETS[cluster].podCIDR);
      expect(plan.podCIDR.startsWith(PRESETS[cluster].podCIDR.split('.').slice(0, 2).join('.'))).to.equal(true);
      for (const node of PRESETS[cluster].nodes) expect(prefix24(node.podCIDR)).to.not.equal(prefix24(plan.podCIDR));
      const serviceNet = PRESETS[cluster].serviceClusterIPRange.split('.').slice(0, 2).join('.');
      expect(plan.dnsServiceIP.startsWith(`${serviceNet}.`)).to.equal(true);
    });
  }

  it('keeps names within the kernel limits and files in the sandbox directory', () => {
    for (const cluster of ['local', 'remote'] as const) {
      const plan = realNodePlan(cluster, '/tmp/sandbox');
      expect(plan.wanPort.length).to.be.at.most(15);
      expect(plan.dir).to.equal(`/tmp/sandbox/real-nodes/${cluster}`);
    }
    expect(WAN.hostVeth.length).to.be.at.most(15);
    expect(realNodeApiserverArgs()).to.deep.equal([`--advertise-address=${WAN.hostIP}`]);
  });
});

describe('real nodes: the image archive', function () {
  let dir = '';
  before(function () {
    if (!fs.existsSync('/bin/busybox')) {
      throw new Error('/bin/busybox is missing: apt-get install busybox-static (.ci/run installs it)');
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-images-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('holds both images, named for containerd, sharing one layer with busybox and the shop', async function () {
    this.timeout(30_000);
    const shop = path.join(dir, 'shop');
    fs.writeFileSync(shop, '#!/bin/sh\necho shop\n', { mode: 0o755 });
    const archive = await ensureImageArchive(shop, path.join(dir, 'cache'));
    expect(await ensureImageArchive(shop, path.join(dir, 'cache'))).to.equal(archive); // cached
    const layout = path.join(dir, 'layout');
    fs.mkdirSync(layout);
    execFileSync('tar', ['-C', layout, '-xf', archive]);
    const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8'));
    const names = index.manifests.map(
      (m: { annotations: Record<string, string> }) => m.annotations['io.containerd.image.name'],
    );
    expect(names).to.deep.equal([SHOP_IMAGE, PAUSE_IMAGE]);
    const blob = (digest: string) => path.join(layout, 'blobs/sha256', digest.replace('sha256:', ''));
    const manifests = index.manifests.map((m: { digest: string }) =>
      JSON.parse(fs.readFileSync(blob(m.digest), 'utf8')),
    );
    expect(manifests[0].layers[0].digest).to.equal(manifests[1].layers[0].digest);
    const files = execFileSync('tar', ['-tf', blob(manifests[0].layers[0].digest)], { encoding: 'utf8' }).split('\n');
    expect(files).to.include.members(['bin/busybox', 'bin/shop', 'bin/sh', 'bin/wget', 'etc/passwd']);
    const config = JSON.parse(fs.readFileSync(blob(manifests[1].config.digest), 'utf8'));
    expect(config.config.Entrypoint).to.deep.equal(['/bin/sleep']);
  });
});

describe('demo: the trace tree', () => {
  it('draws one line per hop, with how each callee was named', () => {
    const hop = (service: string, cluster: string, calls: Hop['calls'] = []): Hop => ({
      service,
      cluster,
      node: `real-node-${cluster}`,
      podIP: cluster === 'local' ? '10.244.0.2' : '172.16.0.2',
      pod: `${service}-1`,
      calls,
    });
    const trace = hop('frontend', 'local', [
      {
        addr: 'cartservice:7070',
        via: 'env CART_SERVICE_ADDR',
        response: hop('cartservice', 'remote', [
          { addr: 'redis-cart:6379', via: 'env REDIS_ADDR', response: hop('redis-cart', 'local') },
        ]),
      },
      { addr: 'adservice:9555', via: 'dns', error: 'connection refused' },
    ]);
    const lines = renderTrace(trace);
    expect(lines).to.have.length(4);
    expect(lines[0]).to.match(/^frontend\s+local\s+real-node-local/);
    expect(lines[1]).to.match(/^├─ cartservice\s+remote .*\(cartservice:7070 via env CART_SERVICE_ADDR\)$/);
    expect(lines[2]).to.match(/^│ {2}└─ redis-cart\s+local/);
    expect(lines[3]).to.equal('└─ adservice:9555 FAILED: connection refused');
  });
});
