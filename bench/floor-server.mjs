// The floors of the admission rows: bare node:https servers with the same certificate, TLS
// minimum and keep-alive as the webhook (src/webhook/server/https.ts), started the same way (a child
// process), so the difference is what kube-offload does per admission.
//
// - default: reads the request and answers a fixed "allowed" AdmissionReview (the floor the
//   targets are set against: TLS and HTTP only).
// - --parse: what any real admission webhook must do at the least: reads the body, JSON.parse
//   it, and answers "allowed" with the request's uid (the API server rejects any other uid).
//   The difference from ours is then deciding, patching, logging and counting.
// - --parse --patch FILE: the same, and the answer carries the JSON patch in FILE (computed
//   once, beforehand): a webhook that makes the same change as ours without deciding anything.
//   The apiserver's cost of applying a patch and storing the larger pod is then in its floor too.
//
//   node bench/floor-server.ts --cert-dir DIR [--parse [--patch FILE]] [--port 0] [--host 127.0.0.1]
import fs from 'node:fs';
import { createServer } from 'node:https';
import path from 'node:path';
import { parseArgs } from 'node:util';
const { values } = parseArgs({
    options: {
        'cert-dir': { type: 'string' },
        parse: { type: 'boolean', default: false },
        patch: { type: 'string' },
        port: { type: 'string', default: '0' },
        host: { type: 'string', default: '127.0.0.1' },
    },
});
const certDir = values['cert-dir'];
if (!certDir || (values.patch !== undefined && !values.parse)) {
    process.stderr.write('usage: node bench/floor-server.ts --cert-dir DIR [--parse [--patch FILE]] [--port N] [--host ADDR]\n');
    process.exit(2);
}
// `,"patchType":"JSONPatch","patch":"<base64>"` appended to every answer, or nothing.
const patchFields = values.patch === undefined
    ? ''
    : `,"patchType":"JSONPatch","patch":"${Buffer.from(JSON.stringify(JSON.parse(fs.readFileSync(values.patch, 'utf8')))).toString('base64')}"`;
const answer = Buffer.from(JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: '0f5a1e3c-8d2b-4b7e-a6c9-3e1f2d4c5b6a', allowed: true },
}));
const headers = { 'content-type': 'application/json', 'content-length': answer.length };
const fixed = (req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
        res.writeHead(200, headers);
        res.end(answer);
    });
};
const parsing = (req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
        let uid;
        try {
            uid = JSON.parse(Buffer.concat(chunks).toString('utf8'))?.request?.uid;
        }
        catch {
            uid = undefined;
        }
        if (typeof uid !== 'string') {
            res.writeHead(400, { 'content-type': 'text/plain', 'content-length': 12 });
            res.end('bad request\n');
            return;
        }
        const response = `{"uid":${JSON.stringify(uid)},"allowed":true${patchFields}}`;
        const body = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":${response}}`;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
    });
};
const server = createServer({
    key: fs.readFileSync(path.join(certDir, 'tls.key')),
    cert: fs.readFileSync(path.join(certDir, 'tls.crt')),
    minVersion: 'TLSv1.2',
}, values.parse ? parsing : fixed);
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), values.host, () => {
    const { port } = server.address();
    process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
