// kubectl's kubeconfig loading rules (src/kube/kubeconfig.ts), used by every command and
// component: --kubeconfig, else the files of $KUBECONFIG merged the way kubectl merges them, else
// ~/.kube/config, else in-cluster; --context picks the context.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type https from 'node:https';
import {
  NoKubeconfigError,
  loadClientNodeConfig,
  loadKubeClientConfig,
  mergeKubeconfigs,
  readKubeconfig,
} from '../../../src/kube/kubeconfig.ts';
import { loadClusterConfig } from '../../../src/webhook/cluster/connect.ts';

interface Entry {
  context: string;
  server: string;
  user?: string;
}

/** A kubeconfig with one cluster and user per context, named after it. */
function kubeconfig(current: string | undefined, entries: Entry[], userExtra = ''): string {
  const lines = ['apiVersion: v1', 'kind: Config'];
  if (current) lines.push(`current-context: ${current}`);
  lines.push('contexts:');
  for (const e of entries)
    lines.push(`- name: ${e.context}`, `  context: {cluster: ${e.context}, user: ${e.user ?? e.context}}`);
  lines.push('clusters:');
  for (const e of entries) lines.push(`- name: ${e.context}`, '  cluster:', `    server: ${e.server}`);
  lines.push('users:');
  for (const e of entries)
    lines.push(`- name: ${e.user ?? e.context}`, '  user:', `    token: token-of-${e.context}${userExtra}`);
  return `${lines.join('\n')}\n`;
}

async function bearer(config: { applyToHTTPSOptions(o: https.RequestOptions): Promise<void> }): Promise<string> {
  const options: https.RequestOptions = {};
  await config.applyToHTTPSOptions(options);
  return (options.headers as Record<string, string>).Authorization ?? '';
}

describe('kubeconfig loading rules (kubectl)', () => {
  let dir: string;
  let home: string;
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return file;
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeconfig-rules-'));
    home = path.join(dir, 'home');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--kubeconfig wins over $KUBECONFIG and ~/.kube/config', () => {
    const flag = write('flag', kubeconfig('a', [{ context: 'a', server: 'https://flag:1' }]));
    const env = { KUBECONFIG: write('env', kubeconfig('a', [{ context: 'a', server: 'https://env:1' }])) };
    write('home/.kube/config', kubeconfig('a', [{ context: 'a', server: 'https://home:1' }]));
    expect(loadKubeClientConfig(flag, { env, home }).getCurrentCluster()?.server).to.equal('https://flag:1');
    expect(loadKubeClientConfig(undefined, { env, home }).getCurrentCluster()?.server).to.equal('https://env:1');
    expect(loadKubeClientConfig(undefined, { env: {}, home }).getCurrentCluster()?.server).to.equal('https://home:1');
  });

  it('merges $KUBECONFIG as kubectl does: the first current-context and the first entry of a name win', async () => {
    const first = write('a', kubeconfig(undefined, [{ context: 'shared', server: 'https://first:1' }]));
    const second = write(
      'b',
      kubeconfig('prod', [
        { context: 'shared', server: 'https://second:1' },
        { context: 'prod', server: 'https://prod:1' },
      ]),
    );
    const third = write('c', kubeconfig('dev', [{ context: 'dev', server: 'https://dev:1' }]));
    const env = { KUBECONFIG: [first, path.join(dir, 'missing'), second, third].join(path.delimiter) };
    const found = readKubeconfig(undefined, { env, home });
    expect(found?.doc['current-context'], 'the first file that sets it (b), not the last (c)').to.equal('prod');
    const config = loadKubeClientConfig(undefined, { env, home });
    expect(config.getCurrentCluster()?.server).to.equal('https://prod:1');
    expect(await bearer(config)).to.equal('Bearer token-of-prod');
    // "shared" is in a and b: a's cluster and user, as kubectl keeps them (client-node would refuse the duplicate).
    const shared = loadKubeClientConfig(undefined, { env, home, context: 'shared' });
    expect(shared.getCurrentCluster()?.server).to.equal('https://first:1');
    expect(loadKubeClientConfig(undefined, { env, home, context: 'dev' }).getCurrentCluster()?.server).to.equal(
      'https://dev:1',
    );
    expect(mergeKubeconfigs([{}, { 'current-context': 'x' }])['current-context']).to.equal('x');
  });

  it('resolves relative file names against the file that names them', async () => {
    write('one/ca.crt', 'CA-ONE');
    write('two/token', 'token-from-file\n');
    const one = write(
      'one/config',
      'current-context: c1\ncontexts:\n- {name: c1, context: {cluster: k1, user: u1}}\n' +
        'clusters:\n- {name: k1, cluster: {server: "https://one:1", certificate-authority: ca.crt}}\n' +
        'users:\n- {name: u1, user: {token: t1}}\n',
    );
    const two = write(
      'two/config',
      'contexts:\n- {name: c2, context: {cluster: k2, user: u2}}\n' +
        'clusters:\n- {name: k2, cluster: {server: "https://two:1", insecure-skip-tls-verify: true}}\n' +
        'users:\n- {name: u2, user: {tokenFile: token}}\n',
    );
    const env = { KUBECONFIG: `${one}${path.delimiter}${two}` };
    const options: https.RequestOptions = {};
    await loadKubeClientConfig(undefined, { env, home }).applyToHTTPSOptions(options);
    expect(String(options.ca)).to.equal('CA-ONE');
    expect(await bearer(loadKubeClientConfig(undefined, { env, home, context: 'c2' }))).to.equal(
      'Bearer token-from-file',
    );
  });

  it('--context picks a context over a bogus current-context; an unknown one is named with those there are', () => {
    const file = write(
      'two',
      kubeconfig('gone', [
        { context: 'good', server: 'https://good:1' },
        { context: 'other', server: 'https://other:1' },
      ]),
    );
    expect(loadKubeClientConfig(file, { context: 'good' }).getCurrentCluster()?.server).to.equal('https://good:1');
    expect(() => loadKubeClientConfig(file)).to.throw(
      `${file}: its current-context "gone" is not one of its contexts; give --context (contexts: good, other)`,
    );
    expect(() => loadKubeClientConfig(file, { context: 'nope' })).to.throw(
      `--context: "nope" is not a context of ${file} (contexts: good, other)`,
    );
    expect(() =>
      loadClientNodeConfig(file, {
        context: 'nope',
        flags: { kubeconfig: 'remote-kubeconfig', context: 'remote-context' },
      }),
    ).to.throw(`--remote-context: "nope" is not a context of ${file}`);
  });

  it('client-node gets the same merged document (exec plugins), with the context chosen', () => {
    const exec = write(
      'exec',
      kubeconfig('a', [
        { context: 'a', server: 'https://a:1' },
        { context: 'b', server: 'https://b:1' },
      ]).replace(
        '    token: token-of-b',
        '    exec: {command: ./bin/get-token, apiVersion: client.authentication.k8s.io/v1}',
      ),
    );
    const config = loadKubeClientConfig(exec, { context: 'b' }) as ReturnType<typeof loadClientNodeConfig>;
    expect(config.getCurrentCluster()?.server).to.equal('https://b:1');
    // client-go's rule: an exec command that names a directory is relative to the kubeconfig.
    expect(config.getCurrentUser()?.exec?.command).to.equal(path.join(dir, 'bin/get-token'));
  });

  it("the webhook's cluster mode takes --context too, and says how to run without a cluster", () => {
    const file = write(
      'two',
      kubeconfig('gone', [
        { context: 'good', server: 'https://good:1' },
        { context: 'other', server: 'https://other:1' },
      ]),
    );
    expect(loadClusterConfig(file, 'other').getCurrentCluster()?.server).to.equal('https://other:1');
    // As outside a pod, even when the tests run in one.
    const saved = process.env.KUBECONFIG;
    const host = process.env.KUBERNETES_SERVICE_HOST;
    process.env.KUBECONFIG = path.join(dir, 'missing');
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      expect(() => loadClusterConfig(undefined)).to.throw(
        /^no cluster access: no kubeconfig: .*\(use --kubeconfig, or --standalone\)$/,
      );
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
      if (host !== undefined) process.env.KUBERNETES_SERVICE_HOST = host;
    }
  });

  it('says what is missing when there is no kubeconfig at all (and no service account)', () => {
    const env = { KUBECONFIG: path.join(dir, 'missing') };
    expect(readKubeconfig(undefined, { env, home })).to.equal(undefined);
    expect(() => loadKubeClientConfig(undefined, { env, home })).to.throw(
      NoKubeconfigError,
      `none of the files of $KUBECONFIG (${env.KUBECONFIG}) exists`,
    );
    expect(() => loadKubeClientConfig(undefined, { env: {}, home, context: 'x' })).to.throw(
      NoKubeconfigError,
      'no kubeconfig to find --context in: no --kubeconfig, no $KUBECONFIG, no ~/.kube/config',
    );
    expect(() => loadKubeClientConfig(path.join(dir, 'nope'))).to.throw(/^--kubeconfig: cannot read kubeconfig .*nope/);
  });
});
