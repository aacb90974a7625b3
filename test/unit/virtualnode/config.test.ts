import { expect } from 'chai';
import { ConfigError } from '../../../src/common/flags.ts';
import { VIRTUAL_NODE_USAGE, parseVirtualNodeArgs } from '../../../src/virtualnode/config.ts';
import type { VirtualNodeCommandConfig } from '../../../src/virtualnode/config.ts';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}): VirtualNodeCommandConfig => {
  const c = parseVirtualNodeArgs(argv, env);
  if (c === 'help') throw new Error('help');
  return c;
};

describe('virtualnode flags', () => {
  it('defaults: node virtual-<remote>, 127.0.0.1, Liqo convention, no metrics server', () => {
    const c = parse(['--cluster-name', 'local', '--remote', 'remote=/tmp/r.kubeconfig']);
    expect(c.remotes).to.deep.equal([{ name: 'remote', kubeconfig: '/tmp/r.kubeconfig', nodeName: 'virtual-remote' }]);
    expect(c.nodeIP).to.equal('127.0.0.1');
    expect(c.convention.taintKey).to.equal('virtual-node.liqo.io/not-allowed');
    expect(c.metricsPort).to.equal(undefined);
    expect(c.probeIntervalMs).to.equal(5000);
    expect(c.leaseIntervalMs).to.equal(10_000);
  });

  it('kubelet API: port 10250 on all addresses by default; port, address, cert dir and client CA flags', () => {
    const defaults = parse(['--cluster-name', 'local', '--remote', 'r=/k']);
    expect(defaults.kubelet).to.deep.equal({ port: 10250, address: '0.0.0.0' });
    const c = parse([
      '--cluster-name',
      'local',
      '--remote',
      'r=/k',
      '--kubelet-port',
      '0',
      '--kubelet-address',
      '127.0.0.1',
      '--kubelet-cert-dir',
      '/var/lib/kubelet-certs',
      '--client-ca-file',
      '/ca.pem',
    ]);
    expect(c.kubelet).to.deep.equal({
      port: 0,
      address: '127.0.0.1',
      certDir: '/var/lib/kubelet-certs',
      clientCaFile: '/ca.pem',
    });
    expect(() => parse(['--cluster-name', 'l', '--remote', 'r=/k', '--kubelet-port', '70000'])).to.throw(
      /--kubelet-port/,
    );
    expect(() => parse(['--cluster-name', 'l', '--remote', 'r=/k', '--kubelet-address', 'any'])).to.throw(
      /--kubelet-address/,
    );
    expect(() =>
      parse(['--cluster-name', 'l', '--remote', 'a=/k', '--remote', 'b=/k', '--kubelet-port', '65535']),
    ).to.throw(/no port for each/);
  });

  it('takes the pod IP from the environment in-cluster', () => {
    expect(parse(['--cluster-name', 'local', '--remote', 'r=/k'], { POD_IP: '10.244.1.5' }).nodeIP).to.equal(
      '10.244.1.5',
    );
  });

  it('node names: plain with one remote, REMOTE=NAME with several', () => {
    expect(parse(['--cluster-name', 'l', '--remote', 'r=/k', '--node-name', 'vk']).remotes[0]?.nodeName).to.equal('vk');
    const c = parse([
      '--cluster-name',
      'l',
      '--remote',
      'a=/ka',
      '--remote',
      'b=/kb',
      '--node-name',
      'b=vb',
      '--metrics-port',
      '9090',
      '--label',
      'tier=gold',
    ]);
    expect(c.remotes.map((r) => r.nodeName)).to.deep.equal(['virtual-a', 'vb']);
    expect(c.metricsPort).to.equal(9090);
    expect(c.extraLabels).to.deep.equal({ tier: 'gold' });
  });

  it('rejects bad input with a message naming the flag', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--remote', 'r=/k'], /--cluster-name is required/],
      [['--cluster-name', 'l', '--peer-namespace', 'Peers'], /--peer-namespace: "Peers" is not a DNS-1123 label/],
      [['--cluster-name', 'l', '--remote', 'r'], /--remote: "r" is not KEY=VALUE/],
      [['--cluster-name', 'l', '--remote', 'r=/k', '--remote', 'r=/k2'], /given twice/],
      [['--cluster-name', 'l', '--remote', 'r=/k', '--node-ip', 'nope'], /--node-ip/],
      [['--cluster-name', 'l', '--remote', 'r=/k', '--node-name', 'x=vx'], /no --remote x/],
      [['--cluster-name', 'l', '--remote', 'r=/k', '--virtual-node-taint', 'k=v:Sometimes'], /effect/],
      [['--cluster-name', 'l', '--remote', 'r=/k', '--probe-interval', 'soon'], /--probe-interval/],
      [['--cluster-name', 'l', '--remote', 'r=/k', '--bogus'], /bogus/],
    ];
    for (const [argv, message] of bad) expect(() => parse(argv), argv.join(' ')).to.throw(ConfigError, message);
  });

  it('--workers, --resync-period, --lease-namespace: defaults, and the lease namespace from $POD_NAMESPACE', () => {
    const base = ['--cluster-name', 'l', '--remote', 'r=/k'];
    const defaults = parse(base);
    expect([defaults.workers, defaults.resyncPeriodMs, defaults.leaseNamespace]).to.deep.equal([
      16,
      300_000,
      'kube-offload-system',
    ]);
    expect(parse(base, { POD_NAMESPACE: 'offload' }).leaseNamespace).to.equal('offload');
    const given = parse([...base, '--workers', '4', '--resync-period', '1m', '--lease-namespace', 'ops'], {
      POD_NAMESPACE: 'offload',
    });
    expect([given.workers, given.resyncPeriodMs, given.leaseNamespace]).to.deep.equal([4, 60_000, 'ops']);
  });

  it('keeps the deprecated --concurrency, --resync and --leader-elect-namespace working, with a warning each', () => {
    const warnings: string[] = [];
    const argv = [
      '--cluster-name',
      'l',
      '--remote',
      'r=/k',
      '--concurrency',
      '8',
      '--resync=2m',
      '--leader-elect-namespace',
      'ops',
    ];
    const c = parseVirtualNodeArgs(argv, {}, (line) => warnings.push(line));
    if (c === 'help') throw new Error('help');
    expect([c.workers, c.resyncPeriodMs, c.leaseNamespace]).to.deep.equal([8, 120_000, 'ops']);
    expect(warnings).to.deep.equal([
      'warning: --concurrency is deprecated, use --workers',
      'warning: --resync is deprecated, use --resync-period',
      'warning: --leader-elect-namespace is deprecated, use --lease-namespace',
    ]);
    // A bad value under an old name is reported under the new one.
    expect(() =>
      parseVirtualNodeArgs(['--cluster-name', 'l', '--remote', 'r=/k', '--concurrency', '0'], {}, () => undefined),
    ).to.throw(ConfigError, /--workers/);
    expect(VIRTUAL_NODE_USAGE).to.include('--lease-namespace').and.include('--resync-period').and.include('--workers');
  });
});
