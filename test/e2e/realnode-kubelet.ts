// e2e on real nodes: the kubelet API of the virtual node in front of a real container. A pod
// placed Remote is bound to the virtual node locally and runs for real on real-node-remote; every
// command below goes local kubectl (or @kubernetes/client-node) -> local apiserver -> the
// provider's kubelet API -> remote apiserver -> the real kubelet -> containerd. This proves what
// the kwok sandbox of kubelet.test.ts cannot: exit codes (kwok reports none) and stdin EOF (kwok
// never closes a command's stdin), each of the three ways in: kubectl's default (WebSocket),
// kubectl forced to SPDY, and client-node's Exec (WebSocket v5). Port-forward, the same three ways,
// reaches a real container too: over SPDY the provider relays the session to the real kubelet.
//
// The tests share the sandbox of realnode.test.ts (starting real nodes is the slow part), so they
// are registered into its describe block, before the test that stops the sandbox.
import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SANDBOX_VIRTUAL_NODE } from '../../src/dev/virtual-node.ts';
import { SHOP_IMAGE } from '../../src/sandbox/realnode/index.ts';
import { ENABLED_LABEL, PLACEMENT_ANNOTATION } from '../../webhooks/keys.ts';
import { clientNodeExec, clientNodePortForward, kubeConfigFrom, type ExecResult } from './helpers/client-node.ts';
import { applyYaml, getObject, kubectlOk } from './helpers/kubectl.ts';
import { KUBECTL_MODES, runKubectlBuffered, type BufferedResult } from './helpers/kubectl-process.ts';
import { httpText, sha256, startPortForward } from './helpers/port-forward.ts';
import { isReady, podOf, twinOf, type Hop, type RealNodeSandboxHandle, type ShopPod } from './helpers/realnode.ts';
import { waitFor } from './helpers/wait.ts';

const PROBE_NAMESPACE = 'kubelet-probe';
const POD = 'kubelet-probe';
const CONTAINER = 'probe';
const REMOTE_NODE = 'real-node-remote';
const MiB = 1024 * 1024;
/** The shop's cartservice listens here (demo/shop/shop.yaml). */
const CART_PORT = 7070;

/** A command's outcome, the same shape whichever way it came in. */
interface Outcome {
  exit: number | null;
  stdout: string;
  stderr: string;
}

/** One way into the pod's exec: runs `command` with `stdin` (EOF after it) or none. */
interface ExecWay {
  name: string;
  exec(command: string[], stdin?: string): Promise<Outcome>;
}

function podYaml(marker: string): string {
  // The container prints the marker on stdout and stderr (for `kubectl logs`), then idles.
  const script = `echo ${marker}-out; echo ${marker}-err >&2; exec sleep 100000`;
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${POD}
  annotations: { ${PLACEMENT_ANNOTATION}: Remote }
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: ${CONTAINER}
      image: ${SHOP_IMAGE}
      imagePullPolicy: IfNotPresent
      command: [sh, -c, '${script}']
      resources: { requests: { cpu: 10m, memory: 8Mi } }
`;
}

/** client-node reports the exit as a Status: Success, or NonZeroExitCode with an ExitCode cause. */
function exitOfStatus(result: ExecResult): number | null {
  if (result.status.status === 'Success') return 0;
  const cause = result.status.details?.causes?.find((c) => c.reason === 'ExitCode');
  return cause?.message === undefined ? null : Number(cause.message);
}

/**
 * Registers the tests into the enclosing describe block of a real-node sandbox whose shop runs in
 * `shopNamespace` (port-forward goes to its cartservice).
 */
export function kubeletOnRealNodeTests(env: RealNodeSandboxHandle, shopNamespace: string): void {
  // The probe pod has a namespace of its own: the shop's tests count the pods of theirs.
  const namespace = PROBE_NAMESPACE;
  const twin = twinOf(namespace);
  const marker = `real-${randomUUID().slice(0, 8)}`;
  const local = () => env.sandbox.local;
  const remote = () => env.sandbox.remote;
  let workDir: string;

  const kubectlWay = (mode: (typeof KUBECTL_MODES)[number]): ExecWay => ({
    name: `kubectl, ${mode.name}`,
    exec: async (command, stdin) => {
      const args = ['-n', namespace, 'exec', ...(stdin === undefined ? [] : ['-i']), POD, '--', ...command];
      const res = await runKubectlBuffered(local(), args, { env: mode.env, input: stdin ?? '', timeoutMs: 30_000 });
      return { exit: res.code, stdout: res.stdout.toString(), stderr: res.stderr };
    },
  });
  const clientNodeWay: ExecWay = {
    name: '@kubernetes/client-node Exec',
    exec: async (command, stdin) => {
      const kc = kubeConfigFrom(local().kubeconfigPath);
      const target = { namespace, pod: POD, container: CONTAINER };
      const res = await clientNodeExec(kc, target, command, stdin === undefined ? undefined : Buffer.from(stdin));
      return { exit: exitOfStatus(res), stdout: res.stdout, stderr: res.stderr };
    },
  };
  const ways: ExecWay[] = [...KUBECTL_MODES.map(kubectlWay), clientNodeWay];

  const kubectlIn = (args: string[], mode: (typeof KUBECTL_MODES)[number]): Promise<BufferedResult> =>
    runKubectlBuffered(local(), ['-n', namespace, ...args], { env: mode.env, timeoutMs: 120_000 });
  /** What the real container holds at `file`, read straight on the remote cluster. */
  const remoteSha256 = async (file: string): Promise<string> => {
    const args = ['-n', twin, 'exec', POD, '--', 'sha256sum', file];
    const res = await runKubectlBuffered(remote(), args, { timeoutMs: 60_000 });
    expect(res.code, res.stderr).to.equal(0);
    return res.stdout.toString().split(' ')[0] ?? '';
  };

  before(async function () {
    this.timeout(180_000);
    workDir = fs.mkdtempSync(path.join(env.sandbox.dir, 'kubelet-realnode-'));
    await kubectlOk(local(), ['create', 'namespace', namespace]);
    await kubectlOk(local(), ['label', 'namespace', namespace, `${ENABLED_LABEL}=true`]);
    await applyYaml(local(), podYaml(marker), { namespace });
    await waitFor(
      async () => {
        const pod = await getObject<ShopPod>(remote(), 'pod', POD, { namespace: twin });
        return pod && isReady(pod) && pod.spec.nodeName === REMOTE_NODE;
      },
      { timeoutMs: 150_000, intervalMs: 500, description: `${twin}/${POD} Ready on ${REMOTE_NODE}` },
    );
  });

  it('kubelet API: the probe pod is bound to the virtual node and runs on the real remote node', async () => {
    const pod = await getObject<ShopPod>(local(), 'pod', POD, { namespace });
    expect(pod?.spec.nodeName).to.equal(SANDBOX_VIRTUAL_NODE);
  });

  it('kubelet API: kubectl logs shows what the real container wrote (stdout and stderr)', async () => {
    const logs = await waitFor(
      async () => {
        const res = await runKubectlBuffered(local(), ['-n', namespace, 'logs', POD]);
        const text = res.stdout.toString();
        return res.code === 0 && text.includes(`${marker}-err`) ? text : undefined;
      },
      { timeoutMs: 20_000, description: `kubectl logs ${POD} showing both lines` },
    );
    expect(logs.split('\n').filter(Boolean).sort()).to.deep.equal([`${marker}-err`, `${marker}-out`]);
  });

  for (const way of ways) {
    it(`kubelet API, ${way.name}: \`sh -c 'exit 3'\` exits 3, \`exit 0\` exits 0`, async () => {
      const failed = await way.exec(['sh', '-c', 'exit 3']);
      expect(failed.exit, failed.stderr).to.equal(3);
      const ok = await way.exec(['sh', '-c', 'exit 0']);
      expect(ok.exit, ok.stderr).to.equal(0);
    });

    it(`kubelet API, ${way.name}: \`printf data | exec -i -- cat\` round-trips (stdin EOF reaches cat)`, async () => {
      const res = await way.exec(['cat'], 'data');
      expect(res).to.deep.equal({ exit: 0, stdout: 'data', stderr: '' });
    });

    it(`kubelet API, ${way.name}: stdout and stderr stay apart`, async () => {
      const res = await way.exec(['sh', '-c', 'echo out; echo err >&2; echo out2; exit 5']);
      expect(res.stdout).to.equal('out\nout2\n');
      expect(res.exit).to.equal(5);
      // kubectl adds its own "command terminated with exit code 5" after the command's stderr.
      expect(res.stderr.startsWith('err\n'), res.stderr).to.equal(true);
    });
  }

  /** Asks the shop's cartservice (a real container on the remote node) who it is, on new connections. */
  const whoAnswers = async (localPort: number): Promise<Hop[]> => {
    const answers: Hop[] = [];
    for (let i = 0; i < 5; i++) answers.push(JSON.parse(await httpText(localPort, '/whoami')) as Hop);
    return answers;
  };
  const expectCartservice = (answers: Hop[]): void => {
    for (const hop of answers) expect(hop).to.include({ service: 'cartservice', cluster: 'remote', node: REMOTE_NODE });
  };

  for (const mode of KUBECTL_MODES) {
    it(`kubelet API, kubectl ${mode.name}: port-forward reaches the real container, a new connection each request`, async () => {
      const cart = await podOf(local(), shopNamespace, 'cartservice');
      const pf = await startPortForward(local(), {
        namespace: shopNamespace,
        target: `pod/${cart.metadata.name}`,
        remotePort: CART_PORT,
        env: mode.env,
      });
      try {
        expectCartservice(await whoAnswers(pf.localPort));
      } finally {
        await pf.stop();
      }
    });
  }

  it('kubelet API, @kubernetes/client-node PortForward: reaches the real container', async () => {
    const cart = await podOf(local(), shopNamespace, 'cartservice');
    const kc = kubeConfigFrom(local().kubeconfigPath);
    const target = { namespace: shopNamespace, pod: cart.metadata.name };
    const forward = await clientNodePortForward(kc, target, CART_PORT);
    try {
      expectCartservice(await whoAnswers(forward.port));
    } finally {
      forward.close();
    }
  });

  for (const mode of KUBECTL_MODES) {
    it(`kubelet API, kubectl ${mode.name}: cp copies 5 MiB into the real container and back, byte-identical`, async () => {
      const data = randomBytes(5 * MiB);
      const name = `cp-${randomUUID().slice(0, 8)}.bin`;
      const upload = path.join(workDir, name);
      const download = path.join(workDir, `back-${name}`);
      fs.writeFileSync(upload, data);
      const up = await kubectlIn(['cp', upload, `${namespace}/${POD}:/tmp/${name}`], mode);
      expect(up.code, up.stderr).to.equal(0);
      expect(await remoteSha256(`/tmp/${name}`)).to.equal(sha256(data));
      const down = await kubectlIn(['cp', `${namespace}/${POD}:/tmp/${name}`, download], mode);
      expect(down.code, down.stderr).to.equal(0);
      expect(sha256(fs.readFileSync(download))).to.equal(sha256(data));
    });
  }
}
