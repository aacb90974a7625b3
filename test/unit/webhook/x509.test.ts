// The certificates x509.ts writes: what node:crypto reads back, signatures that verify, the
// fields Go's TLS (the API server) looks at, and leaves signed by CAs written elsewhere.
import { expect } from 'chai';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { generate } from 'selfsigned';
import { generateCa, issueServingCert, servingNames } from '../../../src/webhook/tls/generate.ts';
import { createCertificate, subjectKeyIdentifierOf, subjectOf } from '../../../src/webhook/tls/x509.ts';

describe('x509 certificates', function () {
  it('writes a CA and a serving certificate that verify and carry the names and usages', async function () {
    const ca = await generateCa('test-ca');
    const names = servingNames('kube-offload-webhook', 'kube-offload-system');
    const pair = await issueServingCert(ca, names, 3_600_000);
    const caCert = new X509Certificate(ca.cert);
    const leaf = new X509Certificate(pair.cert);
    expect(caCert.ca).to.equal(true);
    expect(caCert.subject).to.equal('CN=test-ca');
    expect(caCert.verify(caCert.publicKey)).to.equal(true);
    expect(leaf.ca).to.equal(false);
    expect(leaf.checkIssued(caCert) && leaf.verify(caCert.publicKey)).to.equal(true);
    expect(leaf.checkPrivateKey(createPrivateKey(pair.key))).to.equal(true);
    expect(leaf.subjectAltName?.split(', ')).to.deep.equal([
      'DNS:kube-offload-webhook',
      'DNS:kube-offload-webhook.kube-offload-system',
      'DNS:kube-offload-webhook.kube-offload-system.svc',
      'DNS:kube-offload-webhook.kube-offload-system.svc.cluster.local',
      'DNS:localhost',
      'IP Address:127.0.0.1',
    ]);
    expect(leaf.keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.1']);
    expect(leaf.checkHost('kube-offload-webhook.kube-offload-system.svc')).to.equal(
      'kube-offload-webhook.kube-offload-system.svc',
    );
    expect(leaf.checkIP('127.0.0.1')).to.equal('127.0.0.1');
    expect(subjectKeyIdentifierOf(caCert)).to.have.length(20);
    expect(pair.key).to.match(/^-----BEGIN PRIVATE KEY-----\n/);
    // Backdated a little for clocks behind ours, valid for the lifetime asked for.
    const lifetime = new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime();
    expect(lifetime).to.be.within(3_600_000, 3_600_000 + 61_000);
  });

  it('writes dates after 2049 as GeneralizedTime and IPv6 addresses as 16 bytes', function () {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = createCertificate({
      commonName: 'far',
      publicKey,
      notBefore: new Date('2049-12-31T23:59:59Z'),
      notAfter: new Date('2071-06-01T12:00:00Z'),
      ca: false,
      altNames: ['::1', 'fd00::a:1', 'example.com'],
      signingKey: privateKey,
    });
    const cert = new X509Certificate(pem);
    expect(new Date(cert.validFrom).toISOString()).to.equal('2049-12-31T23:59:59.000Z');
    expect(new Date(cert.validTo).toISOString()).to.equal('2071-06-01T12:00:00.000Z');
    expect(cert.subjectAltName).to.equal('IP Address:0:0:0:0:0:0:0:1, IP Address:FD00:0:0:0:0:0:A:1, DNS:example.com');
  });

  it('signs leaves for a CA made elsewhere (RSA, several name attributes), issuer copied verbatim', async function () {
    const foreign = await generate(
      [
        { name: 'commonName', value: 'Corp CA' },
        { name: 'organizationName', value: 'Corp' },
        { name: 'countryName', value: 'DE' },
      ],
      {
        keyType: 'rsa',
        keySize: 2048,
        algorithm: 'sha256',
        extensions: [{ name: 'basicConstraints', cA: true, critical: true }],
      },
    );
    const ca = { cert: foreign.cert, key: foreign.private };
    const pair = await issueServingCert(ca, ['svc.example'], 60_000);
    const caCert = new X509Certificate(ca.cert);
    const leaf = new X509Certificate(pair.cert);
    expect(leaf.issuer).to.equal(caCert.subject);
    expect(leaf.checkIssued(caCert) && leaf.verify(caCert.publicKey)).to.equal(true);
    expect(subjectOf(caCert).length).to.be.greaterThan(30);
  });
});
