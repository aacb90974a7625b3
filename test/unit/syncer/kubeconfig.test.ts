import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type https from 'node:https';
import { loadLiteKubeConfig } from '../../../src/kube/kubeconfig.ts';

describe('syncer lite kubeconfig', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeconfig-test-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  const base = (user: string, cluster = '    server: https://127.0.0.1:6443\n    certificate-authority-data: Q0E=') =>
    'apiVersion: v1\nkind: Config\ncurrent-context: c\n' +
    'contexts:\n- name: c\n  context: {cluster: k, user: u}\n' +
    `clusters:\n- name: k\n  cluster:\n${cluster}\n` +
    `users:\n- name: u\n  user:\n${user}\n`;

  it('handles bearer tokens and CA data', async () => {
    const kc = loadLiteKubeConfig(write('token', base('    token: abc')));
    expect(kc?.getCurrentCluster()?.server).to.equal('https://127.0.0.1:6443');
    const opts: https.RequestOptions = {};
    await kc!.applyToHTTPSOptions(opts);
    expect(String(opts.ca)).to.equal('CA');
    expect((opts.headers as Record<string, string>).Authorization).to.equal('Bearer abc');
  });

  it('handles client certificate files relative to the kubeconfig', async () => {
    write('c.crt', 'CERT');
    write('c.key', 'KEY');
    const kc = loadLiteKubeConfig(
      write(
        'cert',
        base(
          '    client-certificate: c.crt\n    client-key: c.key',
          '    server: https://h:1\n    insecure-skip-tls-verify: true',
        ),
      ),
    );
    const opts: https.RequestOptions = {};
    await kc!.applyToHTTPSOptions(opts);
    expect(String(opts.cert)).to.equal('CERT');
    expect(String(opts.key)).to.equal('KEY');
    expect(opts.rejectUnauthorized).to.equal(false);
  });

  it('leaves exec plugins and proxies to client-node', () => {
    expect(
      loadLiteKubeConfig(write('exec', base('    exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}'))),
    ).to.equal(undefined);
    expect(
      loadLiteKubeConfig(write('proxy', base('    token: x', '    server: https://h:1\n    proxy-url: http://p:3128'))),
    ).to.equal(undefined);
    expect(loadLiteKubeConfig(path.join(dir, 'missing'))).to.equal(undefined);
  });
});
