// /stats/summary and /metrics/resource of a virtual node, from the fake remote's metrics.k8s.io
// PodMetrics: local names and uids in both documents, CPU counters that only grow, and a remote
// without a metrics API answered with empty documents and asked once per discovery window.
import { expect } from 'chai';
import https from 'node:https';
import type { StatsEndpoints } from '../../../src/kubelet/metrics/remote-stats.ts';
import { remoteStats } from '../../../src/kubelet/metrics/remote-stats.ts';
import { emptyResourceMetrics } from '../../../src/kubelet/metrics/resource-metrics.ts';
import type { PodMetricsItem } from '../../../src/kubelet/metrics/remote-pod-metrics.ts';
import type { LocalPod } from '../../../src/kubelet/metrics/usage.ts';
import { remoteClusterBackend } from '../../../src/kubelet/remote-backend.ts';
import { startFakeRemote } from './fake-remote.ts';
import type { FakeRemote } from './fake-remote.ts';
import { localBackend, NODE_NAME, startTestServer } from './fixtures.ts';
import { parsePrometheusText } from './prometheus-text.ts';
import type { PromSample } from './prometheus-text.ts';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const MI = 1 << 20;
const DISCOVERY = 'GET /apis/metrics.k8s.io/v1beta1';

/** Local namespace → twin namespace in the remote cluster. */
const TWINS: Record<string, string> = { shop: 'shop-local', other: 'other-local' };

function localPod(namespace: string, name: string, uid: string, containers: string[] = []): LocalPod {
  return {
    metadata: { namespace, name, uid, creationTimestamp: '2026-03-01T11:00:00Z' },
    status: {
      startTime: '2026-03-01T11:00:01Z',
      containerStatuses: containers.map((c) => ({
        name: c,
        state: { running: { startedAt: `2026-03-01T11:00:0${2}Z` } },
      })),
    },
  };
}

function podMetrics(namespace: string, name: string, containers: Record<string, [string, string]>): PodMetricsItem {
  return {
    metadata: { namespace, name },
    timestamp: '2026-03-01T11:59:50Z',
    window: '15s',
    containers: Object.entries(containers).map(([c, [cpu, memory]]) => ({ name: c, usage: { cpu, memory } })),
  };
}

const signal = (): AbortSignal => new AbortController().signal;

describe('kubelet stats and resource metrics from the remote PodMetrics', () => {
  let remote: FakeRemote;
  let now: number;
  let pods: LocalPod[];
  let errors: unknown[];

  before(async () => {
    remote = await startFakeRemote(localBackend({ pods: {} }));
  });

  after(async () => {
    await remote?.close();
  });

  beforeEach(() => {
    now = T0;
    errors = [];
    remote.requests.length = 0;
    remote.metrics.discovery = 200;
    remote.metrics.listStatus = 200;
    pods = [
      localPod('shop', 'web', 'uid-web', ['app', 'sidecar']),
      localPod('shop', 'db', 'uid-db', ['db']),
      localPod('other', 'api', 'uid-api'),
      localPod('shop', 'elsewhere', 'uid-elsewhere'),
    ];
    remote.metrics.pods = {
      'shop-local': [
        podMetrics('shop-local', 'web', { app: ['250m', '64Mi'], sidecar: ['1500000n', '10Mi'] }),
        podMetrics('shop-local', 'db', { db: ['1', '1Gi'] }),
        podMetrics('shop-local', 'elsewhere', { main: ['3', '1Gi'] }),
        podMetrics('shop-local', 'stranger', { main: ['2', '1Gi'] }),
      ],
      'other-local': [podMetrics('other-local', 'api', { api: ['0', '100Ki'] })],
    };
  });

  function endpoints(): StatsEndpoints {
    return remoteStats({
      nodeName: NODE_NAME,
      client: remote.client,
      listPods: () => pods,
      // shop/elsewhere is listed but not bound here (any more).
      resolvePod: async (namespace, name) =>
        name === 'elsewhere' || !TWINS[namespace] ? undefined : { namespace: TWINS[namespace], name },
      now: () => now,
      onError: (err) => errors.push(err),
    });
  }

  async function scrape(stats: StatsEndpoints): Promise<PromSample[]> {
    const parsed = parsePrometheusText(await stats.metricsResource(signal()));
    for (const s of parsed.samples) expect(parsed.types.has(s.name), s.name).to.equal(true);
    return parsed.samples;
  }

  const find = (samples: PromSample[], name: string, labels: Record<string, string> = {}): PromSample => {
    const found = samples.filter((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels));
    expect(found, `${name} ${JSON.stringify(labels)}`).to.have.length(1);
    return found[0]!;
  };

  describe('with metrics', () => {
    it('Summary: node totals, pods under their local names and uids, containers with cpu and memory', async () => {
      const summary = (await endpoints().statsSummary(signal())) as any;
      const time = new Date(T0).toISOString();
      expect(summary.node).to.deep.equal({
        nodeName: NODE_NAME,
        startTime: time,
        systemContainers: [],
        cpu: { time, usageNanoCores: 1_251_500_000, usageCoreNanoSeconds: 1_251_500_000 * 15 },
        memory: { time, workingSetBytes: 64 * MI + 10 * MI + 1024 * MI + 100 * 1024 },
      });
      expect(summary.pods.map((p: any) => p.podRef)).to.deep.equal([
        { name: 'api', namespace: 'other', uid: 'uid-api' },
        { name: 'db', namespace: 'shop', uid: 'uid-db' },
        { name: 'web', namespace: 'shop', uid: 'uid-web' },
      ]);
      const web = summary.pods[2];
      expect(web.startTime).to.equal('2026-03-01T11:00:01Z');
      expect(web.cpu).to.deep.equal({ time, usageNanoCores: 251_500_000, usageCoreNanoSeconds: 251_500_000 * 15 });
      expect(web.memory).to.deep.equal({ time, workingSetBytes: 74 * MI });
      expect(web.containers).to.deep.equal([
        {
          name: 'app',
          startTime: '2026-03-01T11:00:02Z',
          cpu: { time, usageNanoCores: 250_000_000, usageCoreNanoSeconds: 250_000_000 * 15 },
          memory: { time, workingSetBytes: 64 * MI },
        },
        {
          name: 'sidecar',
          startTime: '2026-03-01T11:00:02Z',
          cpu: { time, usageNanoCores: 1_500_000, usageCoreNanoSeconds: 1_500_000 * 15 },
          memory: { time, workingSetBytes: 10 * MI },
        },
      ]);
      // An idle container's counter starts above 0 (metrics-server drops a counter at 0).
      const api = summary.pods[0].containers[0];
      expect(api).to.deep.include({ name: 'api', startTime: '2026-03-01T11:00:01Z' });
      expect(api.cpu).to.deep.equal({ time, usageNanoCores: 0, usageCoreNanoSeconds: 1000 });
    });

    it('asks the remote for the twin namespaces of bound pods only, with its credentials', async () => {
      await endpoints().statsSummary(signal());
      expect([...remote.requests].sort()).to.deep.equal([
        DISCOVERY,
        `${DISCOVERY}/namespaces/other-local/pods`,
        `${DISCOVERY}/namespaces/shop-local/pods`,
      ]);
    });

    it('Prometheus text: every family, local names in the labels, timestamps, scrape_error 0', async () => {
      const samples = await scrape(endpoints());
      const ts = T0;
      expect(find(samples, 'node_cpu_usage_seconds_total')).to.deep.equal({
        name: 'node_cpu_usage_seconds_total',
        labels: {},
        value: 1.2515 * 15,
        timestamp: ts,
      });
      expect(find(samples, 'node_memory_working_set_bytes').value).to.equal(1098 * MI + 100 * 1024);
      const app = { container: 'app', namespace: 'shop', pod: 'web' };
      expect(find(samples, 'container_cpu_usage_seconds_total', app)).to.deep.include({ value: 3.75, timestamp: ts });
      expect(find(samples, 'container_memory_working_set_bytes', app)).to.deep.include({
        value: 64 * MI,
        timestamp: ts,
      });
      const web = { namespace: 'shop', pod: 'web' };
      expect(find(samples, 'pod_cpu_usage_seconds_total', web)).to.deep.include({ value: 0.2515 * 15, timestamp: ts });
      expect(find(samples, 'pod_memory_working_set_bytes', web).value).to.equal(74 * MI);
      expect(find(samples, 'scrape_error').value).to.equal(0);
      const pods = new Set(samples.filter((s) => s.labels.pod).map((s) => `${s.labels.namespace}/${s.labels.pod}`));
      expect([...pods].sort()).to.deep.equal(['other/api', 'shop/db', 'shop/web']);
      const containers = samples.filter((s) => s.name === 'container_cpu_usage_seconds_total').map((s) => s.labels);
      expect(containers).to.deep.equal([
        { container: 'api', namespace: 'other', pod: 'api' },
        { container: 'db', namespace: 'shop', pod: 'db' },
        app,
        { container: 'sidecar', namespace: 'shop', pod: 'web' },
      ]);
    });

    it('CPU counters grow by the latest rate between scrapes and never decrease', async () => {
      const stats = endpoints();
      const app = { container: 'app', namespace: 'shop', pod: 'web' };
      const first = await scrape(stats);
      now += 15_000;
      remote.metrics.pods['shop-local']![0] = podMetrics('shop-local', 'web', {
        app: ['500m', '70Mi'],
        sidecar: ['0', '10Mi'],
      });
      const second = await scrape(stats);
      const delta = (samples: PromSample[][], name: string, labels: Record<string, string> = {}): number =>
        find(samples[1]!, name, labels).value - find(samples[0]!, name, labels).value;
      // What metrics-server computes: Δcounter / Δt is the remote's latest rate.
      expect(delta([first, second], 'container_cpu_usage_seconds_total', app) / 15).to.be.closeTo(0.5, 1e-9);
      expect(delta([first, second], 'pod_cpu_usage_seconds_total', { namespace: 'shop', pod: 'web' })).to.be.closeTo(
        7.5,
        1e-9,
      );
      expect(delta([first, second], 'node_cpu_usage_seconds_total') / 15).to.be.closeTo(1.5, 1e-9);
      const sidecar = { ...app, container: 'sidecar' };
      expect(delta([first, second], 'container_cpu_usage_seconds_total', sidecar)).to.equal(0);
      expect(find(second, 'container_cpu_usage_seconds_total', app).timestamp).to.equal(T0 + 15_000);
      expect(find(second, 'container_memory_working_set_bytes', app).value).to.equal(70 * MI);
    });

    it('a pod whose metrics were missing resumes without a jump or a drop; a pod gone is forgotten', async () => {
      const stats = endpoints();
      const db = { container: 'db', namespace: 'shop', pod: 'db' };
      const before = find(await scrape(stats), 'container_cpu_usage_seconds_total', db).value;
      const dbMetrics = remote.metrics.pods['shop-local']!.splice(1, 1);
      now += 15_000;
      const missing = await scrape(stats);
      expect(missing.filter((s) => s.labels.pod === 'db')).to.deep.equal([]);
      remote.metrics.pods['shop-local']!.push(...dbMetrics);
      now += 60_000;
      const back = find(await scrape(stats), 'container_cpu_usage_seconds_total', db).value;
      expect(back).to.equal(before);
      now += 15_000;
      const next = find(await scrape(stats), 'container_cpu_usage_seconds_total', db).value;
      expect(next - back).to.be.closeTo(15, 1e-9);
      // Recreated under the same name: another uid, another counter.
      pods = pods.map((p) => (p.metadata?.name === 'db' ? localPod('shop', 'db', 'uid-db-2', ['db']) : p));
      const summary = (await stats.statsSummary(signal())) as any;
      const recreated = summary.pods.find((p: any) => p.podRef.name === 'db');
      expect(recreated.podRef.uid).to.equal('uid-db-2');
      expect(recreated.cpu.usageCoreNanoSeconds).to.equal(15e9);
    });
  });

  describe('without a metrics API', () => {
    for (const code of [404, 503]) {
      it(`discovery ${code}: empty valid documents, one discovery call per 30 s window`, async () => {
        remote.metrics.discovery = code;
        const stats = endpoints();
        const summary = await stats.statsSummary(signal());
        expect(summary).to.deep.equal({
          node: { nodeName: NODE_NAME, startTime: new Date(T0).toISOString(), systemContainers: [] },
          pods: [],
        });
        const text = await stats.metricsResource(signal());
        expect(text).to.equal(emptyResourceMetrics());
        expect(parsePrometheusText(text).samples).to.deep.equal([{ name: 'scrape_error', labels: {}, value: 0 }]);
        await Promise.all([stats.statsSummary(signal()), stats.metricsResource(signal())]);
        now += 29_999;
        await stats.metricsResource(signal());
        expect(remote.requests).to.deep.equal([DISCOVERY]);
        now += 1;
        await stats.metricsResource(signal());
        expect(remote.requests).to.deep.equal([DISCOVERY, DISCOVERY]);
        expect(errors).to.deep.equal([]);
      });
    }

    it('concurrent first scrapes share one discovery call', async () => {
      remote.metrics.discovery = 404;
      const stats = endpoints();
      await Promise.all([1, 2, 3, 4].map(() => stats.metricsResource(signal())));
      expect(remote.requests).to.deep.equal([DISCOVERY]);
    });

    it('metrics appear once the window is over; an API that goes away is remembered again', async () => {
      remote.metrics.discovery = 503;
      const stats = endpoints();
      expect(await scrape(stats)).to.have.length(1);
      remote.metrics.discovery = 200;
      now += 30_000;
      expect((await scrape(stats)).filter((s) => s.labels.pod === 'web')).to.have.length(6);
      remote.metrics.discovery = 404;
      now += 30_000;
      remote.requests.length = 0;
      expect(await scrape(stats)).to.have.length(1);
      await scrape(stats);
      expect(remote.requests).to.deep.equal([DISCOVERY]);
    });

    it('a PodMetrics list answering 404 counts as no metrics API too', async () => {
      const stats = endpoints();
      await scrape(stats);
      remote.metrics.pods = {};
      remote.metrics.listStatus = 404;
      now += 1000;
      expect(await stats.metricsResource(signal())).to.equal(emptyResourceMetrics());
      remote.requests.length = 0;
      await stats.statsSummary(signal());
      expect(remote.requests).to.deep.equal([]);
    });
  });

  describe('when the remote refuses (403: no RBAC for pods.metrics.k8s.io)', () => {
    it('the Summary fails; the resource metrics say scrape_error 1 and report the error', async () => {
      remote.metrics.listStatus = 403;
      const stats = endpoints();
      let failure: unknown;
      await stats.statsSummary(signal()).catch((err: unknown) => (failure = err));
      expect(String(failure)).to.match(/403 Forbidden/);
      const samples = await scrape(stats);
      expect(samples).to.deep.equal([{ name: 'scrape_error', labels: {}, value: 1 }]);
      expect(errors.map(String)).to.have.length(1);
      expect(String(errors[0])).to.match(/cannot list resource "pods"/);
    });
  });

  describe('through the kubelet server', () => {
    it('serves both documents to an authorized client, with the Prometheus content type', async () => {
      const backend = remoteClusterBackend({
        remote: remote.api,
        logs: remote.client,
        resolvePod: async (namespace, name) =>
          namespace === 'shop' && name === 'web' ? { namespace: 'shop-local', name } : undefined,
        stats: { nodeName: NODE_NAME, client: remote.client, listPods: () => pods, now: () => now },
      });
      const server = await startTestServer(backend);
      try {
        const get = (p: string): Promise<{ status: number; type: string; body: string }> =>
          new Promise((resolve, reject) => {
            const options = { ca: server.serving.ca, cert: server.clients.cert, key: server.clients.key };
            https
              .get(`https://127.0.0.1:${server.port}${p}`, options, (res) => {
                let body = '';
                res.on('data', (c: Buffer) => (body += c.toString()));
                res.on('end', () =>
                  resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body }),
                );
              })
              .on('error', reject);
          });
        const summary = await get('/stats/summary');
        expect(summary.status).to.equal(200);
        const parsed = JSON.parse(summary.body);
        expect(parsed.pods.map((p: any) => p.podRef)).to.deep.equal([
          { name: 'web', namespace: 'shop', uid: 'uid-web' },
        ]);
        const metrics = await get('/metrics/resource');
        expect(metrics.status).to.equal(200);
        expect(metrics.type).to.equal('text/plain; version=0.0.4; charset=utf-8');
        const samples = parsePrometheusText(metrics.body).samples;
        expect(
          samples.filter((s) => s.name === 'container_cpu_usage_seconds_total').map((s) => s.labels.container),
        ).to.deep.equal(['app', 'sidecar']);
        expect(server.errors).to.deep.equal([]);
      } finally {
        await server.close();
      }
    });
  });
});
