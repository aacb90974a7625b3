// Pre-generates webhook certificates with the same code the server uses:
//
//   node certs/generate.ts [--out certs/out] [--service-name kube-offload-webhook]
//                          [--namespace kube-offload-system] [--validity 365d]
//
// Writes ca.crt, ca.key, tls.crt, tls.key (keys 0600) into --out. A CA already there (ca.crt +
// ca.key) is reused, so re-running renews the serving cert without changing the caBundle.
// certs/out/ is git-ignored: never commit keys.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/webhook/config.ts';
import { CA_CERT, CA_KEY, TLS_CERT, TLS_KEY, readCertDir, writeCertFiles } from '../src/webhook/tls/files.ts';
import { generateCa, issueServingCert, servingNames } from '../src/webhook/tls/generate.ts';
import { parseCa } from '../src/webhook/tls/inspect.ts';

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string', default: join(import.meta.dirname, 'out') },
        'service-name': { type: 'string', default: 'kube-offload-webhook' },
        namespace: { type: 'string', default: 'kube-offload-system' },
        validity: { type: 'string', default: '365d' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    process.stderr.write(`certs/generate.ts: ${(error as Error).message}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(
      'usage: node certs/generate.ts [--out DIR] [--service-name NAME] [--namespace NS] [--validity 365d]\n',
    );
    return 0;
  }
  const validityMs = parseDuration(values.validity, 'validity');
  const existing = await readCertDir(values.out);
  let ca;
  if (existing.caCert !== undefined && existing.caKey !== undefined) {
    ca = { cert: existing.caCert, key: existing.caKey };
    parseCa(ca, `${values.out}/ca.crt + ca.key`);
  } else {
    ca = await generateCa();
  }
  const names = servingNames(values['service-name'], values.namespace);
  const pair = await issueServingCert(ca, names, validityMs);
  await writeCertFiles(values.out, [
    { name: CA_KEY, data: ca.key, secret: true },
    { name: CA_CERT, data: ca.cert, secret: false },
    { name: TLS_KEY, data: pair.key, secret: true },
    { name: TLS_CERT, data: pair.cert, secret: false },
  ]);
  process.stdout.write(
    `wrote ${[CA_CERT, CA_KEY, TLS_CERT, TLS_KEY].map((name) => join(values.out, name)).join(', ')}\n` +
      `serving names: ${names.join(', ')}\n` +
      `caBundle: ${Buffer.from(ca.cert).toString('base64')}\n`,
  );
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
