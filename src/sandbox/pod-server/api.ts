// The pod server's way to its cluster's apiserver: JSON requests and a watch stream, over
// HTTPS with a client certificate (the sandbox's admin), no client library.
import fs from 'node:fs';
import https from 'node:https';
import readline from 'node:readline';

export interface ApiCredentials {
  server: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface JsonResponse {
  status: number;
  // Decoded JSON of any shape: callers reach into it as they need.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export class ApiClient {
  readonly #server: string;
  readonly #agent: https.Agent;

  constructor(credentials: ApiCredentials) {
    this.#server = credentials.server;
    this.#agent = new https.Agent({
      keepAlive: true,
      ca: fs.readFileSync(credentials.caFile),
      cert: fs.readFileSync(credentials.certFile),
      key: fs.readFileSync(credentials.keyFile),
    });
  }

  request(method: string, apiPath: string, body?: unknown, contentType = 'application/json'): Promise<JsonResponse> {
    return new Promise((resolve, reject) => {
      const headers = body === undefined ? {} : { 'content-type': contentType };
      const req = https.request(`${this.#server}${apiPath}`, { method, agent: this.#agent, headers, timeout: 30_000 });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: parseJson(Buffer.concat(chunks)) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath} timed out`)));
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  /** Streams a watch; resolves when the server ends it, rejects on connection errors. */
  watch<T>(apiPath: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = https.request(`${this.#server}${apiPath}`, { agent: this.#agent, signal });
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`watch ${apiPath}: HTTP ${res.statusCode}`));
          return;
        }
        const lines = readline.createInterface({ input: res, crlfDelay: Infinity });
        lines.on('line', (line) => {
          try {
            if (line.trim()) onEvent(JSON.parse(line) as WatchEvent<T>);
          } catch (err) {
            req.destroy();
            reject(err);
          }
        });
        lines.on('close', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

function parseJson(buffer: Buffer): unknown {
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch {
    return buffer.toString('utf8');
  }
}
