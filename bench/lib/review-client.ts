// A plain HTTPS client for single AdmissionReviews: checks an answer (verifying the server's
// certificate against the CA) and times reviews one at a time over one kept-alive connection.
import https from 'node:https';

export interface ReviewAnswer {
  status: number;
  json: any;
  bytes: number;
  ms: number;
}

function post(
  port: number,
  ca: Buffer,
  urlPath: string,
  body: string,
  agent: https.Agent | false,
): Promise<ReviewAnswer> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const options = {
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      path: urlPath,
      method: 'POST',
      ca,
      headers,
      agent,
    };
    const req = https.request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const ms = performance.now() - start;
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text), bytes: Buffer.byteLength(text), ms });
        } catch (error) {
          reject(new Error(`${urlPath}: HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`, { cause: error }));
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** POSTs the review once on a fresh connection; returns the parsed answer. */
export function reviewOnce(port: number, ca: Buffer, urlPath: string, body: string): Promise<ReviewAnswer> {
  return post(port, ca, urlPath, body, false);
}

export interface TimedReviews {
  /** Latencies (ms) of the timed reviews, after the first. */
  ms: number[];
  /** The first review's latency (cold caches, new connection excluded). */
  firstMs: number;
  allowed: boolean;
  /** Why not allowed (status and the answer's message). */
  detail: string;
  responseBytes: number;
  /** The last answer carried a patch. */
  patched: boolean;
  /** The last answer's warnings. */
  warnings: string[];
}

/**
 * Sends the review `count + 1` times, one at a time, over one kept-alive connection opened
 * beforehand (its handshake is not timed). Stops at the first answer that is not an allowed review.
 */
export async function timeReviews(
  port: number,
  ca: Buffer,
  urlPath: string,
  body: string,
  count: number,
): Promise<TimedReviews> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    // Opens the connection: a GET that any of our servers answers, 404 or not.
    await new Promise<void>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, servername: 'localhost', path: '/healthz', ca, agent }, (res) =>
          res.resume().on('end', resolve),
        )
        .on('error', reject);
    });
    const result: TimedReviews = {
      ms: [],
      firstMs: Number.NaN,
      allowed: true,
      detail: '',
      responseBytes: 0,
      patched: false,
      warnings: [],
    };
    for (let i = 0; i <= count; i++) {
      const answer = await post(port, ca, urlPath, body, agent);
      if (answer.status !== 200 || answer.json?.response?.allowed !== true) {
        const message = answer.json?.response?.status?.message ?? JSON.stringify(answer.json).slice(0, 200);
        return { ...result, allowed: false, detail: `HTTP ${answer.status}: ${message}` };
      }
      result.responseBytes = answer.bytes;
      result.patched = typeof answer.json.response.patch === 'string' && answer.json.response.patch.length > 0;
      result.warnings = (answer.json.response.warnings as string[] | undefined) ?? [];
      if (i === 0) result.firstMs = answer.ms;
      else result.ms.push(answer.ms);
    }
    return result;
  } finally {
    agent.destroy();
  }
}
