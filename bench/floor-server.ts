// The floor of the admission rows: a bare node:https server that reads the request and answers
// a fixed "allowed" AdmissionReview. Same certificate, TLS minimum and keep-alive as the
// webhook (src/server/https.ts), started the same way (a child process), so the difference is
// what kube-offload does per admission: parse, decide, patch, log, count.
//
//   node bench/floor-server.ts --cert-dir DIR [--port 0] [--host 127.0.0.1]
import fs from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { 'cert-dir': { type: 'string' }, port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});
const certDir = values['cert-dir'];
if (!certDir) {
  process.stderr.write('usage: node bench/floor-server.ts --cert-dir DIR [--port N] [--host ADDR]\n');
  process.exit(2);
}

const answer = Buffer.from(
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '0f5a1e3c-8d2b-4b7e-a6c9-3e1f2d4c5b6a', allowed: true } }),
);
const headers = { 'content-type': 'application/json', 'content-length': answer.length };

const server = createServer(
  { key: fs.readFileSync(path.join(certDir, 'tls.key')), cert: fs.readFileSync(path.join(certDir, 'tls.crt')), minVersion: 'TLSv1.2' },
  (req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, headers);
      res.end(answer);
    });
  },
);
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), values.host, () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
