// @kubernetes/client-node's Exec, PortForward and Log, the way programs use them: the third way
// (after kubectl over WebSocket and over SPDY) into a pod's streams, all WebSocket on its side.
import { Exec, KubeConfig, Log, PortForward, type V1Status } from '@kubernetes/client-node';
import net from 'node:net';
import { PassThrough, Writable } from 'node:stream';

export function kubeConfigFrom(kubeconfigPath: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return kc;
}

/**
 * Collects what is written to it. A source piped in may fail (an aborted Log stream does, and
 * client-node leaves that error unhandled): the error is kept instead of crashing the process.
 */
class Collector extends Writable {
  readonly chunks: Buffer[] = [];
  sourceError: Error | undefined;

  constructor() {
    super();
    this.on('pipe', (source) => source.on('error', (err: Error) => (this.sourceError = err)));
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    done();
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  text(): string {
    return this.bytes().toString('utf8');
  }
}

export interface ExecResult {
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
  status: V1Status;
}

/** Runs a command; resolves with its output once the status arrives (stdin, if given, is sent first). */
export async function clientNodeExec(
  kc: KubeConfig,
  target: { namespace: string; pod: string; container: string },
  command: string[],
  stdin?: Buffer,
): Promise<ExecResult> {
  const stdout = new Collector();
  const stderr = new Collector();
  const input = stdin ? new PassThrough() : null;
  const status = new Promise<V1Status>((resolve, reject) => {
    new Exec(kc)
      .exec(target.namespace, target.pod, target.container, command, stdout, stderr, input, false, resolve)
      .then((ws) => ws.on('error', reject), reject);
  });
  input?.end(stdin);
  const settled = await status;
  return { stdout: stdout.text(), stdoutBytes: stdout.bytes(), stderr: stderr.text(), status: settled };
}

export interface LocalForward {
  port: number;
  close(): void;
}

/** A local listener whose every connection client-node forwards to the pod's port (one WebSocket each). */
export async function clientNodePortForward(
  kc: KubeConfig,
  target: { namespace: string; pod: string },
  podPort: number,
): Promise<LocalForward> {
  const forward = new PortForward(kc);
  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    forward.portForward(target.namespace, target.pod, [podPort], socket, null, socket).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

export interface LogStream {
  text(): string;
  stop(): void;
  /** Resolves when the whole answer has arrived (client-node ends the stream it was given then). */
  done: Promise<void>;
}

/** client-node's Log: the whole answer (follow: false) or a stream to stop (follow: true). */
export async function clientNodeLog(
  kc: KubeConfig,
  target: { namespace: string; pod: string; container: string },
  options: { follow?: boolean; tailLines?: number; timestamps?: boolean; previous?: boolean; sinceSeconds?: number },
): Promise<LogStream> {
  const out = new Collector();
  const done = new Promise<void>((resolve) => out.once('finish', resolve));
  const abort = await new Log(kc).log(target.namespace, target.pod, target.container, out, options);
  return { text: () => out.text(), stop: () => abort.abort(), done };
}
