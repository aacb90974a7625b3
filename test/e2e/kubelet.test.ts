// e2e: operating an offloaded pod like any other — kubectl logs, exec, attach, cp and
// port-forward on a pod of the virtual node, end to end: local kubectl -> local apiserver ->
// the provider's kubelet API -> remote apiserver -> remote kwok (and the sandbox's pod server
// behind kwok's port-forward). The sandbox runs kube-offload as `sandbox up` does (webhook,
// syncer, provider, each as its ServiceAccounts with exactly the RBAC of manifests/).
//
// Each streaming feature runs three ways: kubectl's default (WebSocket), kubectl forced to SPDY,
// and @kubernetes/client-node. Where kwok itself falls short, the same command straight on the
// remote pod (the "floor") says what to expect: kwok reports a non-zero exit without its code
// and never closes a command's stdin, so stdin is checked with `head -c N`, not `cat`.
// No fixed sleeps: everything polls with a deadline.
import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { kubeOffloadComponents } from '../../src/dev/components.ts';
import { SANDBOX_VIRTUAL_NODE } from '../../src/dev/virtual-node.ts';
import { appendContainerLog, criLogLine, type Cluster } from '../../src/sandbox/cluster.ts';
import type { RunningComponent } from '../../src/sandbox/sandbox.ts';
import { openPodStreams, type PodSubresource } from './helpers/apiserver-streams.ts';
import { clientNodeExec, clientNodeLog, clientNodePortForward, kubeConfigFrom } from './helpers/client-node.ts';
import { kubectlOk } from './helpers/kubectl.ts';
import {
  KUBECTL_MODES,
  runKubectlBuffered,
  runKubectlInTerminal,
  spawnKubectl,
  type BufferedResult,
  type KubectlMode,
  type KubectlProcess,
} from './helpers/kubectl-process.ts';
import {
  apiserverKubeletClient,
  clientCertificate,
  kubeletEndpoint,
  kubeletRequest,
  serviceAccountToken,
  type KubeletEndpoint,
  type KubeletIdentity,
} from './helpers/kubelet-endpoint.ts';
import { APP_CONTAINER, APP_PORT, deployOffloadedApp, type OffloadedApp } from './helpers/offloaded-app.ts';
import { echoRoundTrip, httpRequest, httpText, sha256, startPortForward } from './helpers/port-forward.ts';
import { openSockets, rssBytes } from './helpers/process-stats.ts';
import { useSandbox } from './helpers/sandbox.ts';
import { waitFor } from './helpers/wait.ts';

const NS = 'kubelet-e2e';
const MiB = 1024 * 1024;

describe('kubectl on an offloaded pod: the virtual node kubelet API (e2e)', function () {
  this.timeout(300_000);
  const env = useSandbox({ components: kubeOffloadComponents });
  let app: OffloadedApp;
  let local: Cluster;
  let remote: Cluster;
  let workDir: string;

  const provider = (): RunningComponent => {
    const component = env.sandbox.components.find((c) => c.name === 'virtual-node');
    if (!component) throw new Error('no virtual-node component in the sandbox');
    return component;
  };
  const providerPid = (): number => provider().record.pid;
  const appendLogLines = (lines: string[]): void => appendContainerLog(remote.containers, lines);
  const uniqueId = (): string => randomUUID().slice(0, 8);
  /** kubectl on the offloaded pod, through the virtual node. */
  const viaNode = (args: string[], opts: { mode?: KubectlMode; input?: Buffer | string; timeoutMs?: number } = {}) =>
    runKubectlBuffered(local, ['-n', NS, ...args], { env: opts.mode?.env ?? {}, ...opts });
  /** The same kubectl straight on the remote pod (the floor). */
  const onFloor = (args: string[], opts: { mode?: KubectlMode; input?: Buffer | string; timeoutMs?: number } = {}) =>
    runKubectlBuffered(remote, ['-n', app.twin, ...args], { env: opts.mode?.env ?? {}, ...opts });

  before(async function () {
    this.timeout(300_000);
    local = env.sandbox.local;
    remote = env.sandbox.remote;
    workDir = fs.mkdtempSync(path.join(env.sandbox.dir, 'kubelet-e2e-'));
    app = await deployOffloadedApp(local, remote, NS);
  });

  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    const log = fs.readFileSync(provider().logFile, 'utf8').split('\n').slice(-40).join('\n');
    process.stderr.write(`--- ${provider().logFile} (last lines)\n${log}\n`);
  });

  /** Waits until the remote apiserver holds `count` open pods/<subresource> streams. */
  const remoteStreamsBecome = (subresource: PodSubresource, test: (open: number) => boolean, what: string) =>
    waitFor(async () => test(await openPodStreams(remote, subresource)), {
      timeoutMs: 30_000,
      description: `remote pods/${subresource} streams: ${what}`,
    });

  /** Asserts kubectl stays up for `ms` (a quiet stream must not be cut). */
  async function expectRunningFor(proc: KubectlProcess, ms: number): Promise<void> {
    const until = Date.now() + ms;
    await waitFor(() => !proc.running() || Date.now() >= until, {
      timeoutMs: ms + 5000,
      description: 'the quiet period',
    });
    expect(proc.running(), `kubectl exited during a quiet stream: ${proc.stderr()}`).to.equal(true);
  }

  describe('the remote cluster on its own (the floor every path below is compared with)', () => {
    it('answers kubectl logs, exec and port-forward on the remote pod', async () => {
      const marker = `floor-${uniqueId()}`;
      appendLogLines([marker]);
      expect((await onFloor(['logs', app.pod, '--tail=1'])).stdout.toString()).to.equal(`${marker}\n`);
      const exec = await onFloor(['exec', app.pod, '--', 'sh', '-c', 'echo out; echo err >&2']);
      expect({ code: exec.code, out: exec.stdout.toString(), err: exec.stderr }).to.deep.equal({
        code: 0,
        out: 'out\n',
        err: 'err\n',
      });
      const pf = await startPortForward(remote, {
        namespace: app.twin,
        target: `pod/${app.pod}`,
        remotePort: APP_PORT,
      });
      try {
        expect(await httpText(pf.localPort)).to.include(
          `pod ${app.twin}/${app.pod} port ${APP_PORT} in cluster remote`,
        );
      } finally {
        await pf.stop();
      }
    });
  });

  describe('kubectl logs', () => {
    it('shows the remote container log as on the floor: --tail, --timestamps, --previous, --since', async () => {
      const id = uniqueId();
      fs.appendFileSync(
        remote.containers.logFile,
        criLogLine(`old-${id}`, 'stdout', new Date(Date.now() - 2 * 3600_000)),
      );
      appendLogLines([1, 2, 3, 4, 5].map((i) => `line-${i}-${id}`));
      for (const flags of [['--tail=3'], ['--tail=2', '--timestamps'], ['--previous'], ['--since=1h'], []]) {
        const [node, floor] = await Promise.all([
          viaNode(['logs', app.pod, ...flags]),
          onFloor(['logs', app.pod, ...flags]),
        ]);
        expect(node.code, `kubectl logs ${flags.join(' ')}: ${node.stderr}`).to.equal(0);
        expect(node.stdout.toString(), `kubectl logs ${flags.join(' ')}`).to.equal(floor.stdout.toString());
      }
      const tail = (await viaNode(['logs', app.pod, '--tail=3'])).stdout.toString();
      expect(tail).to.equal([3, 4, 5].map((i) => `line-${i}-${id}\n`).join(''));
      const stamped = (await viaNode(['logs', app.pod, '--tail=1', '--timestamps'])).stdout.toString();
      expect(stamped).to.match(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d+Z line-5-${id}\\n$`));
      expect((await viaNode(['logs', app.pod, '--previous'])).stdout.toString()).to.include('previous instance');
      const since = (await viaNode(['logs', app.pod, '--since=1h'])).stdout.toString();
      expect(since).to.include(`line-1-${id}`).and.not.include(`old-${id}`);
    });

    it('keeps `logs -f` streaming > 30 s with quiet gaps; killing kubectl closes the remote stream', async function () {
      this.timeout(120_000);
      const baseline = await openPodStreams(remote, 'log');
      const follow = spawnKubectl(local, ['-n', NS, 'logs', '-f', '--tail=0', app.pod]);
      try {
        await remoteStreamsBecome('log', (open) => open > baseline, 'the follow reached the remote apiserver');
        const id = uniqueId();
        const startedAt = Date.now();
        for (let i = 0; Date.now() - startedAt < 31_000; i++) {
          appendLogLines([`follow-${id}-${i}`]);
          await follow.waitForOutput(new RegExp(`follow-${id}-${i}\\n`), { timeoutMs: 10_000 });
          await expectRunningFor(follow, 8_000);
        }
        expect(Date.now() - startedAt).to.be.greaterThan(30_000);
      } finally {
        await follow.kill('SIGINT');
      }
      await remoteStreamsBecome('log', (open) => open <= baseline, 'back to the baseline once kubectl is gone');
      expect(provider().running()).to.equal(true);
    });
  });

  for (const mode of KUBECTL_MODES) {
    describe(`kubectl exec, cp, attach, port-forward: ${mode.name}`, () => {
      it('exec keeps stdout and stderr apart', async () => {
        const res = await viaNode(['exec', app.pod, '--', 'sh', '-c', 'echo out; echo err >&2; echo out2'], { mode });
        expect({ code: res.code, out: res.stdout.toString(), err: res.stderr }).to.deep.equal({
          code: 0,
          out: 'out\nout2\n',
          err: 'err\n',
        });
      });

      it('exec ends with the exit the remote reports (kwok: no code, "exit status 3")', async () => {
        const command = ['exec', app.pod, '--', 'sh', '-c', 'exit 3'];
        const [node, floor] = await Promise.all([viaNode(command, { mode }), onFloor(command, { mode })]);
        expect(node.code).to.equal(floor.code).and.not.equal(0);
        expect(node.stderr).to.match(/exit (status|code):? 3/);
        expect((await viaNode(['exec', app.pod, '--', 'sh', '-c', 'exit 0'], { mode })).code).to.equal(0);
      });

      it('exec -i carries stdin to the command (1 MiB through `head -c`, byte-identical)', async () => {
        const small = await viaNode(['exec', '-i', app.pod, '--', 'head', '-c', '4'], { mode, input: 'data' });
        expect(small.stdout.toString()).to.equal('data');
        const data = randomBytes(MiB);
        const big = await viaNode(['exec', '-i', app.pod, '--', 'head', '-c', String(MiB)], { mode, input: data });
        expect(big.code, big.stderr).to.equal(0);
        expect(sha256(big.stdout)).to.equal(sha256(data));
      });

      it('exec -it gives the command a terminal', async () => {
        // The command lingers a second: kwok drops terminal output still unread when it exits.
        const args = ['-n', NS, 'exec', '-it', app.pod, '--', 'sh', '-c', 'tty; echo tty-ok; sleep 1'];
        const res = await runKubectlInTerminal(local, args, { env: mode.env, timeoutMs: 30_000 });
        expect(res.stdout.toString())
          .to.match(/\/dev\/pts\/\d+/)
          .and.include('tty-ok');
      });

      it('cp copies a 5 MiB file into the pod and back, byte-identical', async () => {
        const data = randomBytes(5 * MiB);
        const name = `cp-${uniqueId()}.bin`;
        const upload = path.join(workDir, name);
        const download = path.join(workDir, `back-${name}`);
        fs.writeFileSync(upload, data);
        const up = await viaNode(['cp', upload, `${NS}/${app.pod}:${name}`], { mode, timeoutMs: 120_000 });
        expect(up.code, up.stderr).to.equal(0);
        expect(sha256(fs.readFileSync(path.join(remote.containers.execDir, name)))).to.equal(sha256(data));
        const down = await viaNode(['cp', `${NS}/${app.pod}:${name}`, download], { mode, timeoutMs: 120_000 });
        expect(down.code, down.stderr).to.equal(0);
        expect(sha256(fs.readFileSync(download))).to.equal(sha256(data));
      });

      it('attach streams what the container writes from then on, and closes the remote stream on exit', async () => {
        const baseline = await openPodStreams(remote, 'attach');
        const attach = spawnKubectl(local, ['-n', NS, 'attach', app.pod], { env: mode.env });
        const id = uniqueId();
        try {
          let i = 0;
          // kwok attaches from the end of the log: a line written before it did is not shown.
          await waitFor(
            () => {
              appendLogLines([`attach-${id}-${i++}`]);
              return attach.stdout().includes(`attach-${id}-`);
            },
            { timeoutMs: 30_000, intervalMs: 500, description: 'an attached line' },
          );
        } finally {
          await attach.kill('SIGINT');
        }
        await remoteStreamsBecome('attach', (open) => open <= baseline, 'back to the baseline');
      });

      for (const target of ['pod', 'service'] as const) {
        it(`port-forward ${target}/...: the remote pod answers; 3 concurrent clients, 10 MiB each way`, async () => {
          const name = target === 'pod' ? `pod/${app.pod}` : `service/${app.service}`;
          const remotePort = target === 'pod' ? APP_PORT : 80;
          const pf = await startPortForward(local, { namespace: NS, target: name, remotePort, env: mode.env });
          try {
            const hello = await httpText(pf.localPort);
            expect(hello).to.include(`pod ${app.twin}/${app.pod} port ${APP_PORT} in cluster remote`);
            const bodies = [1, 2, 3].map(() => randomBytes(10 * MiB));
            await Promise.all(bodies.map((body) => echoRoundTrip(pf.localPort, body)));
          } finally {
            await pf.stop();
          }
        });
      }

      it('port-forward: 100 sequential connections grow neither provider sockets nor memory', async function () {
        this.timeout(180_000);
        const pid = providerPid();
        const pf = await startPortForward(local, {
          namespace: NS,
          target: `pod/${app.pod}`,
          remotePort: APP_PORT,
          env: mode.env,
        });
        const round = async () => {
          for (let i = 0; i < 100; i++)
            expect((await httpRequest(pf.localPort, { path: '/bytes?n=1024' })).status).to.equal(200);
        };
        try {
          await round();
          const sockets = await settledSockets(pid);
          const rss = rssBytes(pid);
          await round();
          await waitFor(() => openSockets(pid) <= sockets, {
            timeoutMs: 30_000,
            description: `provider sockets back to ${sockets} (now ${openSockets(pid)})`,
          });
          expect(rssBytes(pid) - rss, 'RSS growth over 100 more connections').to.be.lessThan(16 * MiB);
        } finally {
          await pf.stop();
        }
        await remoteStreamsBecome('portforward', (open) => open === 0, 'none once kubectl is gone');
      });
    });
  }

  describe('@kubernetes/client-node (WebSocket v5 exec, v4 port-forward, Log)', () => {
    const target = () => ({ namespace: NS, pod: app.pod, container: APP_CONTAINER });

    it('Exec keeps stdout and stderr apart and reports the status the remote does', async () => {
      const kc = kubeConfigFrom(local.kubeconfigPath);
      const ok = await clientNodeExec(kc, target(), ['sh', '-c', 'echo out; echo err >&2']);
      expect({ out: ok.stdout, err: ok.stderr, status: ok.status.status }).to.deep.equal({
        out: 'out\n',
        err: 'err\n',
        status: 'Success',
      });
      const floorTarget = { namespace: app.twin, pod: app.pod, container: APP_CONTAINER };
      const [failed, floor] = await Promise.all([
        clientNodeExec(kc, target(), ['sh', '-c', 'exit 3']),
        clientNodeExec(kubeConfigFrom(remote.kubeconfigPath), floorTarget, ['sh', '-c', 'exit 3']),
      ]);
      expect(failed.status.status).to.equal('Failure');
      expect({ reason: failed.status.reason, code: failed.status.code }).to.deep.equal({
        reason: floor.status.reason,
        code: floor.status.code,
      });
    });

    it('Exec carries stdin (1 MiB through `head -c`, byte-identical)', async () => {
      const data = randomBytes(MiB);
      const res = await clientNodeExec(
        kubeConfigFrom(local.kubeconfigPath),
        target(),
        ['head', '-c', String(MiB)],
        data,
      );
      expect(res.status.status).to.equal('Success');
      expect(sha256(res.stdoutBytes)).to.equal(sha256(data));
    });

    it('PortForward reaches the remote pod: who answers, and 3 concurrent 10 MiB echoes', async () => {
      const forward = await clientNodePortForward(
        kubeConfigFrom(local.kubeconfigPath),
        { namespace: NS, pod: app.pod },
        APP_PORT,
      );
      try {
        expect(await httpText(forward.port)).to.include(
          `pod ${app.twin}/${app.pod} port ${APP_PORT} in cluster remote`,
        );
        await Promise.all([1, 2, 3].map(() => echoRoundTrip(forward.port, randomBytes(10 * MiB))));
      } finally {
        forward.close();
      }
    });

    it('Log reads with tailLines and follows until stopped (the remote stream closes then)', async () => {
      const kc = kubeConfigFrom(local.kubeconfigPath);
      const id = uniqueId();
      appendLogLines([`cn-1-${id}`, `cn-2-${id}`]);
      const tail = await clientNodeLog(kc, target(), { tailLines: 2 });
      await tail.done;
      expect(tail.text()).to.equal(`cn-1-${id}\ncn-2-${id}\n`);
      const baseline = await openPodStreams(remote, 'log');
      const follow = await clientNodeLog(kc, target(), { follow: true, tailLines: 0 });
      await remoteStreamsBecome('log', (open) => open > baseline, 'the follow reached the remote apiserver');
      appendLogLines([`cn-follow-${id}`]);
      await waitFor(() => follow.text().includes(`cn-follow-${id}`), {
        timeoutMs: 15_000,
        description: 'the followed line',
      });
      follow.stop();
      await remoteStreamsBecome('log', (open) => open <= baseline, 'back to the baseline once stopped');
    });
  });

  describe('who may use the kubelet API, and for which pods', () => {
    let endpoint: KubeletEndpoint;
    const logsPath = (pod: string) => `/containerLogs/${NS}/${pod}/${APP_CONTAINER}`;
    const execPath = (pod: string, marker: string) =>
      `/exec/${NS}/${pod}/${APP_CONTAINER}?command=touch&command=${marker}&output=1`;
    const portForwardPath = (pod: string) => `/portForward/${NS}/${pod}?port=${APP_PORT}`;
    const markerExists = (marker: string) =>
      [remote, local].some((cluster) => fs.existsSync(path.join(cluster.containers.execDir, marker)));

    before(async function () {
      const found = await kubeletEndpoint(local, SANDBOX_VIRTUAL_NODE);
      if (!found) throw new Error(`${SANDBOX_VIRTUAL_NODE} publishes no kubelet endpoint (daemonEndpoints port 0)`);
      endpoint = found;
    });

    async function podServerConnections(): Promise<number> {
      const counts = JSON.parse(await httpText(Number(new URL(remote.podServerUrl).port), '/sandbox/connections'));
      const ports = (counts.pods[`${app.twin}/${app.pod}`] ?? {}) as Record<string, { accepted: number }>;
      return Object.values(ports).reduce((sum, port) => sum + port.accepted, 0);
    }

    async function expectRefused(identity: KubeletIdentity, pod: string, status: number): Promise<void> {
      const marker = `refused-${uniqueId()}`;
      const before = await podServerConnections();
      const answers = await Promise.all([
        kubeletRequest(endpoint, identity, execPath(pod, marker), { upgrade: true }),
        kubeletRequest(endpoint, identity, portForwardPath(pod), { upgrade: true }),
        kubeletRequest(endpoint, identity, `/attach/${NS}/${pod}/${APP_CONTAINER}?output=1`, { upgrade: true }),
      ]);
      expect(answers.map((answer) => answer.status)).to.deep.equal([status, status, status]);
      expect(markerExists(marker), 'the refused exec ran').to.equal(false);
      expect(await podServerConnections(), 'a refused port-forward reached the pod').to.equal(before);
    }

    it('serves the apiserver (its kubelet client certificate); 404 for a pod not on the virtual node', async () => {
      const apiserver = apiserverKubeletClient(local.dir);
      const logs = await kubeletRequest(endpoint, apiserver, `${logsPath(app.pod)}?tailLines=1`);
      expect(logs.status, logs.body).to.equal(200);
      expect((await kubeletRequest(endpoint, apiserver, logsPath(app.localPod))).status).to.equal(404);
      expect((await kubeletRequest(endpoint, apiserver, logsPath('no-such-pod'))).status).to.equal(404);
      await expectRefused(apiserver, app.localPod, 404);
    });

    it('refuses callers without credentials (401) or without nodes/proxy (403), forwarding nothing', async () => {
      await expectRefused({}, app.pod, 401);
      expect((await kubeletRequest(endpoint, {}, logsPath(app.pod))).status).to.equal(401);
      const nobodyToken = await serviceAccountToken(local, 'default', 'kubelet-e2e-nobody');
      await expectRefused(nobodyToken, app.pod, 403);
      expect((await kubeletRequest(endpoint, nobodyToken, logsPath(app.pod))).status).to.equal(403);
      await expectRefused(await clientCertificate(local.dir, 'kubelet-e2e-nobody'), app.pod, 403);
    });

    it('authorizes as a kubelet: nodes/stats reads stats, only nodes/proxy reaches pods', async () => {
      const role = 'kubelet-e2e-node-stats';
      await kubectlOk(local, ['create', 'clusterrole', role, '--verb=get', '--resource=nodes/stats']);
      const binding = [`--clusterrole=${role}`, '--serviceaccount=default:kubelet-e2e-stats-reader'];
      await kubectlOk(local, ['create', 'clusterrolebinding', role, ...binding]);
      const reader = await serviceAccountToken(local, 'default', 'kubelet-e2e-stats-reader');
      await waitFor(async () => (await kubeletRequest(endpoint, reader, '/stats/summary')).status === 200, {
        timeoutMs: 30_000,
        description: 'nodes/stats to allow /stats/summary',
      });
      // A kubelet authorizes /containerLogs as nodes/proxy (nodes/log is for /logs/, the node's own).
      expect((await kubeletRequest(endpoint, reader, logsPath(app.pod))).status).to.equal(403);
      await expectRefused(reader, app.pod, 403);
    });

    it('serves stats and resource metrics (what kubectl top reads through metrics-server)', async () => {
      const apiserver = apiserverKubeletClient(local.dir);
      const summary = await kubeletRequest(endpoint, apiserver, '/stats/summary');
      expect(summary.status).to.equal(200);
      expect(JSON.parse(summary.body).node.nodeName).to.equal(SANDBOX_VIRTUAL_NODE);
      const metrics = await kubeletRequest(endpoint, apiserver, '/metrics/resource');
      expect(metrics.status).to.equal(200);
      expect(metrics.body).to.match(/^# (HELP|TYPE) /m);
    });
  });

  describe('the remote apiserver down', () => {
    after(async function () {
      this.timeout(90_000);
      await remote.startApiserver();
    });

    it('kubectl fails clearly, the provider stays up, and all works again once the remote is back', async function () {
      this.timeout(240_000);
      await remote.stopApiserver();
      const logs = await viaNode(['logs', app.pod, '--tail=1'], { timeoutMs: 90_000 });
      const exec = await viaNode(['exec', app.pod, '--', 'true'], { timeoutMs: 90_000 });
      for (const res of [logs, exec] as BufferedResult[]) {
        expect(res.signal, 'kubectl hung until killed').to.equal(null);
        expect(res.code).to.not.equal(0);
        expect(res.stderr.trim()).to.match(/^error: |Error from server/);
      }
      expect(provider().running(), 'the provider exited').to.equal(true);
      await remote.startApiserver();
      const marker = `back-${uniqueId()}`;
      appendLogLines([marker]);
      await waitFor(async () => (await viaNode(['logs', app.pod, '--tail=1'])).stdout.toString() === `${marker}\n`, {
        timeoutMs: 90_000,
        intervalMs: 1000,
        description: 'kubectl logs to work again',
      });
      expect((await viaNode(['exec', app.pod, '--', 'true'])).code).to.equal(0);
    });
  });
});

/** The provider's socket count once it has stopped changing for a second. */
async function settledSockets(pid: number): Promise<number> {
  let last = openSockets(pid);
  let since = Date.now();
  const settled = await waitFor(
    () => {
      const now = openSockets(pid);
      if (now !== last) [last, since] = [now, Date.now()];
      return Date.now() - since >= 1000 ? { count: now } : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100, description: 'the provider socket count to settle' },
  );
  return settled.count;
}
