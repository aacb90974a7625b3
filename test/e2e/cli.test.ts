// e2e: the CLI conventions on real apiservers (the sandbox's two clusters, KWOK workers only):
// --context picks a context of a kubeconfig that holds both clusters and whose current-context
// names no context at all; $KUBECONFIG lists several files, merged the way kubectl merges them;
// -o yaml and -o json print documents that parse; the components (syncer, virtual-node) started
// with --context and -n reach the cluster that context names; mistakes exit 1 or 2 as documented.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { KubeClient } from '../../src/kube/client.ts';
import { loadKubeClientConfig } from '../../src/kube/kubeconfig.ts';
import { freePort } from '../../src/sandbox/util.ts';
import { ComponentProcess, useSandbox, waitFor } from './helpers/index.ts';
import { kubeOffload } from './helpers/cli.ts';

const SYSTEM = 'kube-offload-system';
const CLUSTER = 'local';
const REMOTE = 'remote';

/** The CLI as a user runs it; no kubeconfig of the machine leaks in unless `env` names one. */
const cli = (args: string[], env: Record<string, string> = {}) =>
  kubeOffload(args, { KUBECONFIG: '/nonexistent', HOME: '/nonexistent', ...env });

type Doc = Record<string, any>;

/** A sandbox kubeconfig's cluster, user and context, all renamed `name` (both files call their user "admin"). */
function entriesOf(file: string, name: string): { clusters: Doc[]; users: Doc[]; contexts: Doc[] } {
  const doc = parseYaml(fs.readFileSync(file, 'utf8')) as Doc;
  return {
    clusters: [{ name, cluster: doc.clusters[0].cluster }],
    users: [{ name, user: doc.users[0].user }],
    contexts: [{ name, context: { cluster: name, user: name } }],
  };
}

function writeKubeconfig(
  file: string,
  currentContext: string | undefined,
  ...parts: ReturnType<typeof entriesOf>[]
): string {
  const doc: Doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: parts.flatMap((part) => part.clusters),
    users: parts.flatMap((part) => part.users),
    contexts: parts.flatMap((part) => part.contexts),
  };
  if (currentContext) doc['current-context'] = currentContext;
  fs.writeFileSync(file, stringify(doc), { mode: 0o600 });
  return file;
}

describe('CLI conventions (e2e: --context, $KUBECONFIG, -o, -n, exit codes)', function () {
  this.timeout(240_000);
  const env = useSandbox({});
  let workDir: string;
  /** Both clusters (contexts "local" and "remote"); its current-context names no context. */
  let both: string;
  let local: KubeClient;
  const procs: ComponentProcess[] = [];

  before(async function () {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-offload-cli-e2e-'));
    const sb = env.sandbox;
    both = writeKubeconfig(
      path.join(workDir, 'both.kubeconfig'),
      'no-such-context',
      entriesOf(sb.local.kubeconfigPath, CLUSTER),
      entriesOf(sb.remote.kubeconfigPath, REMOTE),
    );
    local = new KubeClient(loadKubeClientConfig(sb.local.kubeconfigPath));
  });

  after(async function () {
    this.timeout(60_000);
    for (const proc of procs) await proc.stop('SIGKILL');
    local?.close();
    if (workDir && !process.env.KEEP_CLI_LOGS) fs.rmSync(workDir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const proc of procs) {
      const log = fs.existsSync(proc.logFile) ? fs.readFileSync(proc.logFile, 'utf8') : '';
      console.error(`--- ${proc.logFile} (last 3000 characters)\n${log.slice(-3000)}`);
    }
  });

  it('peer --context/--remote-context in one kubeconfig, -o yaml: the report parses and names the remote', async () => {
    const result = await cli([
      'peer',
      '--kubeconfig',
      both,
      '--context',
      CLUSTER,
      '--remote-kubeconfig',
      both,
      '--remote-context',
      REMOTE,
      '--name',
      REMOTE,
      '--cluster-name',
      CLUSTER,
      '-o',
      'yaml',
    ]);
    expect(result.code, result.stderr).to.equal(0);
    const report = parseYaml(result.stdout) as Doc;
    expect(report).to.include({ remote: REMOTE, localCluster: CLUSTER, server: env.sandbox.remote.server });
    const stored = report.steps.filter((step: Doc) => step.cluster === 'local' && step.object.startsWith('secret/'));
    expect(stored.map((step: Doc) => step.object)).to.have.members([
      `secret/${SYSTEM}/kube-offload-peer-${REMOTE}-syncer`,
      `secret/${SYSTEM}/kube-offload-peer-${REMOTE}-virtual-node`,
    ]);
    // The Secrets are in the local cluster (the context --context named), not the remote.
    const secrets = await local.list<Doc>(`/api/v1/namespaces/${SYSTEM}/secrets`, {
      labelSelector: 'kube-offload.io/component',
    });
    expect(secrets.items.map((secret) => secret.metadata.name)).to.include(`kube-offload-peer-${REMOTE}-syncer`);
  });

  it('status --context CTX -o yaml parses as YAML and names the remote; -o json and -n say the same', async () => {
    const yaml = await cli(['status', '--kubeconfig', both, '--context', CLUSTER, '-o', 'yaml']);
    expect(yaml.code, yaml.stderr).to.equal(0);
    const document = parseYaml(yaml.stdout) as Doc;
    expect(document.remotes.map((remote: Doc) => remote.name)).to.deep.equal([REMOTE]);
    expect(document.remotes[0]).to.include({ source: 'peer', server: env.sandbox.remote.server });
    const json = await cli(['status', '--kubeconfig', both, '--context', CLUSTER, '-n', SYSTEM, '--output', 'json']);
    expect(json.code, json.stderr).to.equal(0);
    expect((JSON.parse(json.stdout) as Doc).remotes.map((remote: Doc) => remote.name)).to.deep.equal([REMOTE]);
    // -n names where the peer Secrets are: in another namespace there are none.
    const elsewhere = await cli(['status', '--kubeconfig', both, '--context', CLUSTER, '-n', 'default', '-o', 'json']);
    expect(elsewhere.code).to.equal(1);
    expect(elsewhere.stderr).to.include('default/kube-offload-config has no cluster-name');
  });

  it('$KUBECONFIG=a:b is merged as kubectl merges it: the first current-context wins', async () => {
    // a holds the remote's context but names "local" current; b holds "local" and names "remote"
    // current. kubectl takes a's current-context (client-node's own merge would take b's).
    const a = writeKubeconfig(
      path.join(workDir, 'a.kubeconfig'),
      CLUSTER,
      entriesOf(env.sandbox.remote.kubeconfigPath, REMOTE),
    );
    const b = writeKubeconfig(
      path.join(workDir, 'b.kubeconfig'),
      REMOTE,
      entriesOf(env.sandbox.local.kubeconfigPath, CLUSTER),
    );
    const KUBECONFIG = [a, path.join(workDir, 'missing.kubeconfig'), b].join(path.delimiter);
    const status = await cli(['status', '-o', 'json'], { KUBECONFIG });
    expect(status.code, status.stderr).to.equal(0);
    const document = JSON.parse(status.stdout) as Doc;
    expect(document.remotes.map((remote: Doc) => remote.name)).to.deep.equal([REMOTE]);
    // peer again with both clusters from the merged files: nothing to change.
    const again = await cli(['peer', '--remote-context', REMOTE, '--name', REMOTE, '-o', 'json'], { KUBECONFIG });
    expect(again.code, again.stderr).to.equal(0);
    expect(JSON.parse(again.stdout) as Doc).to.include({ remote: REMOTE, localCluster: CLUSTER, changed: false });
  });

  it('a context that is not there is exit 1 naming it and the contexts there are; a bad flag value exit 2', async () => {
    const missing = await cli(['status', '--kubeconfig', both, '--context', 'nope']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include(
      `--context: "nope" is not a context of ${both} (contexts: ${CLUSTER}, ${REMOTE})`,
    );
    const bogus = await cli(['status', '--kubeconfig', both]);
    expect(bogus.code).to.equal(1);
    expect(bogus.stderr).to.include('current-context "no-such-context" is not one of its contexts');
    const usage = await cli(['status', '--kubeconfig', both, '--context', CLUSTER, '-o', 'wide']);
    expect(usage.code).to.equal(2);
    expect(usage.stderr).to.include('--output: "wide" is not one of table, json, yaml');
  });

  it('the syncer started with --context and -n reaches that context, reads the peer Secrets there and is ready', async () => {
    const syncer = new ComponentProcess({
      command: 'syncer',
      port: await freePort(),
      logFile: path.join(workDir, 'syncer.log'),
    });
    procs.push(syncer);
    syncer.start(['--cluster-name', CLUSTER, '--kubeconfig', both, '--context', CLUSTER, '-n', SYSTEM]);
    await waitFor(() => syncer.ready(), { description: 'the syncer to be ready', timeoutMs: 120_000 });
    // The log is written asynchronously: its first line may trail readiness.
    const logLine = (msg: string): Doc | undefined =>
      fs
        .readFileSync(syncer.logFile, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Doc)
        .find((line) => line.msg === msg);
    await waitFor(() => logLine('syncer starting') !== undefined, {
      description: 'the syncer to log that it is starting',
      timeoutMs: 30_000,
    });
    const starting = logLine('syncer starting');
    expect(starting).to.include({ server: env.sandbox.local.server, cluster: CLUSTER });
    expect(starting?.peerSecrets).to.match(new RegExp(`^${SYSTEM} `));
    await waitFor(
      () =>
        fs
          .readFileSync(syncer.logFile, 'utf8')
          .split('\n')
          .some((line) => line.includes('"peer Secrets read"') && line.includes(`"${REMOTE}"`)),
      { description: 'the syncer to read the peer Secret of the remote', timeoutMs: 60_000 },
    );
  });

  it("the virtual node provider started with --context and -n registers the remote's virtual node there", async () => {
    const provider = new ComponentProcess({
      command: 'virtual-node',
      port: await freePort(),
      logFile: path.join(workDir, 'virtual-node.log'),
      metricsHost: '127.0.0.1',
    });
    procs.push(provider);
    provider.start([
      '--cluster-name',
      CLUSTER,
      '--kubeconfig',
      both,
      '--context',
      CLUSTER,
      '--namespace',
      SYSTEM,
      '--node-ip',
      '127.0.0.1',
      '--kubelet-port',
      '0',
      '--kubelet-address',
      '127.0.0.1',
    ]);
    await waitFor(async () => (await local.getOrUndefined<Doc>(`/api/v1/nodes/virtual-${REMOTE}`)) !== undefined, {
      description: `node virtual-${REMOTE} in the local cluster`,
      timeoutMs: 120_000,
    });
    await waitFor(() => provider.ready(), { description: 'the provider to be ready', timeoutMs: 60_000 });
  });

  it('a component whose kubeconfig names no usable context exits 1 at once, saying so', async () => {
    const syncer = new ComponentProcess({
      command: 'syncer',
      port: await freePort(),
      logFile: path.join(workDir, 'syncer-no-context.log'),
    });
    procs.push(syncer);
    syncer.start(['--cluster-name', CLUSTER, '--kubeconfig', both]);
    const code = await waitFor(() => syncer.child?.exitCode ?? undefined, {
      description: 'the syncer to exit',
      timeoutMs: 60_000,
    });
    expect(code).to.equal(1);
    // The child's output reaches the log file through a pipe: it may trail the exit.
    const message = `current-context "no-such-context" is not one of its contexts; give --context (contexts: ${CLUSTER}, ${REMOTE})`;
    await waitFor(() => fs.readFileSync(syncer.logFile, 'utf8').includes(message), {
      description: 'the syncer to log why it exited',
      timeoutMs: 10_000,
    });
  });
});
