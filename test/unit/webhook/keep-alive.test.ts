// Large admission answers on kept-alive connections. While an answer larger than the socket's
// high-water mark drains, Node's HTTP server pauses the connection's request parser; over TLS, a
// next request sent on that connection in the window failed to parse (HPE_PAUSED) and the
// connection was reset: with 4 clients sending the worst admissible pod back to back, 10-25% of
// the calls failed with ECONNRESET. Such answers now close their connection.
import { Agent, request } from 'node:https';
import { expect } from 'chai';
import { worstAdmissiblePod, podReview } from '../../../bench/lib/large-inputs.ts';
import { startTestWebhook, type TestWebhook } from './helpers.ts';

interface Outcome {
  status: number | string;
  connection: string | undefined;
  bytes: number;
}

function post(url: string, agent: Agent, body: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(
      new URL('/mutate/pods', url),
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, bytes }));
        res.on('error', (error) => resolve({ status: error.message, connection: undefined, bytes }));
      },
    );
    req.on('error', (error) => resolve({ status: error.message, connection: undefined, bytes: 0 }));
    req.end(body);
  });
}

describe('webhook server: large answers on kept-alive connections', function () {
  this.timeout(120_000);
  let server: TestWebhook;
  before(async () => {
    server = await startTestWebhook({ args: ['--log-level', 'warn'] });
  });
  after(async () => server?.stop());

  it('4 clients sending the worst admissible pod back to back over kept-alive connections: every call answered', async () => {
    const body = Buffer.from(
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: podReview(worstAdmissiblePod()),
      }),
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 4, ca: server.ca });
    try {
      const client = async (): Promise<Outcome[]> => {
        const outcomes: Outcome[] = [];
        for (let i = 0; i < 25; i++) outcomes.push(await post(server.url, agent, body));
        return outcomes;
      };
      const outcomes = (await Promise.all([client(), client(), client(), client()])).flat();
      const failed = outcomes.filter((outcome) => outcome.status !== 200);
      expect(failed, `${failed.length} of ${outcomes.length} calls failed`).to.deep.equal([]);
      // The answers are large (the merged affinity), and each closed its connection.
      expect(Math.min(...outcomes.map((outcome) => outcome.bytes))).to.be.above(64 * 1024);
      expect(new Set(outcomes.map((outcome) => outcome.connection))).to.deep.equal(new Set(['close']));
    } finally {
      agent.destroy();
    }
  });

  it('a small answer keeps its connection', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'demo' }, spec: { containers: [] } };
    const body = Buffer.from(
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: podReview(pod) }),
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: server.ca });
    try {
      const outcome = await post(server.url, agent, body);
      expect(outcome.status).to.equal(200);
      expect(outcome.connection).to.equal('keep-alive');
    } finally {
      agent.destroy();
    }
  });
});
