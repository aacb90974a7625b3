// Flag parsing of `kube-offload webhook`: defaults, derived values and rejections.
import { expect } from 'chai';
import { parseByteSize, parseWebhookArgs } from '../../../src/webhook/config.ts';
import { ConfigError, parseDuration } from '../../../src/common/flags.ts';
import type { WebhookConfig } from '../../../src/webhook/config.ts';

function parse(args: string[]): WebhookConfig {
  const config = parseWebhookArgs(args);
  if (config === 'help') throw new Error('help');
  return config;
}

function rejection(args: string[]): string {
  try {
    parseWebhookArgs(args);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted: ${args.join(' ')}`);
}

describe('webhook config', function () {
  it('--manage-ca-bundle takes true or false, and names the value it refuses', function () {
    expect(parse(['--cert-dir', '/tmp/x', '--manage-ca-bundle=false']).manageCaBundle).to.equal(false);
    expect(parse(['--cert-dir', '/tmp/x', '--manage-ca-bundle', 'true']).manageCaBundle).to.equal(true);
    expect(rejection(['--cert-dir', '/tmp/x', '--manage-ca-bundle=no'])).to.equal(
      '--manage-ca-bundle: "no" is not true or false',
    );
  });

  it('has documented defaults', function () {
    const config = parse(['--cert-dir', '/tmp/x']);
    expect(config).to.deep.include({
      port: 8443,
      host: '0.0.0.0',
      standalone: false,
      defaultPlacement: 'LocalAndRemote',
      serviceName: 'kube-offload-webhook',
      namespace: 'kube-offload-system',
      caSecret: { namespace: 'kube-offload-system', name: 'kube-offload-webhook-ca' },
      webhookSelector: 'app.kubernetes.io/part-of=kube-offload',
      caSyncIntervalMs: 30_000,
      manageCaBundle: true,
      certValidityMs: 365 * 86_400_000,
      drainTimeoutMs: 20_000,
      maxBufferedBytes: 8 * 1024 * 1024,
      maxWaitingReviews: 1000,
      logLevel: 'info',
    });
    expect(config.convention).to.deep.equal({
      labelKey: 'liqo.io/type',
      labelValue: 'virtual-node',
      taintKey: 'virtual-node.liqo.io/not-allowed',
      taintValue: 'true',
      taintEffect: 'NoExecute',
    });
    expect(config).to.not.have.property('kubeconfig');
    expect(config).to.not.have.property('defaultPrefer');
    expect(config, 'no plain-HTTP port unless asked').to.not.have.property('metricsPort');
    expect(parse(['--cert-dir', 'd', '--metrics-port', '8080']).metricsPort).to.equal(8080);
  });

  it('derives the CA Secret namespace from --namespace unless --ca-secret is given', function () {
    expect(parse(['--cert-dir', 'd', '--namespace', 'offload']).caSecret).to.deep.equal({
      namespace: 'offload',
      name: 'kube-offload-webhook-ca',
    });
    expect(parse(['--cert-dir', 'd', '--ca-secret', 'a/b']).caSecret).to.deep.equal({ namespace: 'a', name: 'b' });
    expect(rejection(['--cert-dir', 'd', '--ca-secret', 'just-a-name'])).to.match(
      /--ca-secret: "just-a-name" is not NAMESPACE\/NAME/,
    );
  });

  it('parses a virtual node convention', function () {
    const config = parse([
      '--cert-dir',
      'd',
      '--virtual-node-label',
      'example.com/virtual=yes',
      '--virtual-node-taint',
      'example.com/remote=true:NoSchedule',
    ]);
    expect(config.convention).to.deep.equal({
      labelKey: 'example.com/virtual',
      labelValue: 'yes',
      taintKey: 'example.com/remote',
      taintValue: 'true',
      taintEffect: 'NoSchedule',
    });
    expect(rejection(['--cert-dir', 'd', '--virtual-node-taint', 'k=v:Sometimes'])).to.include(
      '"Sometimes" is not one of NoSchedule, PreferNoSchedule, NoExecute',
    );
  });

  it('parses durations', function () {
    expect(parseDuration('250ms', 'x')).to.equal(250);
    expect(parseDuration('2m', 'x')).to.equal(120_000);
    expect(parseDuration('1h30m', 'x')).to.equal(5_400_000);
    expect(parseDuration('1.5s', 'x')).to.equal(1500);
    for (const bad of ['', '10', 'm', '5 m', '1x', '-1s'])
      expect(() => parseDuration(bad, 'x'), bad).to.throw(ConfigError);
  });

  it('parses sizes of the admission gate', function () {
    expect(parseByteSize('16Mi', 'x')).to.equal(16 * 1024 * 1024);
    expect(parseByteSize('512Ki', 'x')).to.equal(512 * 1024);
    expect(parseByteSize('20M', 'x')).to.equal(20_000_000);
    expect(parseByteSize('4194304', 'x')).to.equal(4194304);
    for (const bad of ['', '1.5Mi', '16MiB', '-1', 'Mi', '16 Mi']) {
      expect(() => parseByteSize(bad, 'x'), bad).to.throw(ConfigError);
    }
    const config = parse(['--cert-dir', 'd', '--max-buffered-bytes', '32Mi', '--max-waiting-reviews', '10']);
    expect(config).to.deep.include({ maxBufferedBytes: 32 * 1024 * 1024, maxWaitingReviews: 10 });
    expect(rejection(['--cert-dir', 'd', '--max-buffered-bytes', '1Mi'])).to.include('at least 3Mi');
    expect(rejection(['--cert-dir', 'd', '--max-waiting-reviews', 'many'])).to.include('not a whole number');
  });

  it('rejects contradictions and out-of-range values', function () {
    expect(rejection(['--cert-dir', 'd', '--standalone', '--kubeconfig', 'k'])).to.include('exclude each other');
    expect(rejection(['--cert-dir', 'd', '--cert-validity', '1s'])).to.include('at least 3s');
    expect(rejection(['--cert-dir', 'd', '--headers-timeout', '1m', '--request-timeout', '30s'])).to.include(
      'must not exceed',
    );
    expect(rejection(['--cert-dir', 'd', '--log-level', 'loud'])).to.include(
      '"loud" is not one of fatal, error, warn, info, debug, trace, silent',
    );
    expect(rejection(['--cert-dir', 'd', 'extra'])).to.match(/positional/i);
    expect(rejection(['--cert-dir', 'd', '--metrics-port', '8443'])).to.equal(
      '--metrics-port 8443 is --port too: the plain-HTTP port needs one of its own',
    );
    expect(rejection(['--cert-dir', 'd', '--metrics-port', 'x'])).to.include(
      '--metrics-port: "x" is not a port number',
    );
  });
});
