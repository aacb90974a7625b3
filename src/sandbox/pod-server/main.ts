// The sandbox's pod server: one process per sandbox cluster that plays the containers behind
// kwok's port-forward (see kwok-kubelet-api.ts). It watches the cluster's pods and answers, on
// listeners of its own, in the name of each pod with declared ports; its shared listener
// (--port) answers for any other pod, and serves /sandbox/healthz and /sandbox/connections.
//
//   node src/sandbox/pod-server/main.ts --cluster NAME --port N --server URL \
//     --ca FILE --cert FILE --key FILE --log-file FILE
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { sleep } from '../../common/async.ts';
import { criLogLine } from '../kwok-kubelet-api.ts';
import { ApiClient, type WatchEvent } from './api.ts';
import { PodListener } from './listeners.ts';
import { KwokNodes } from './nodes.ts';
import { Pods, podKey, type PodObject } from './pods.ts';
import type { ResponderHooks } from './responder.ts';

const RELIST_PAUSE_MS = 1000;

interface Options {
  cluster: string;
  port: number;
  logFile: string;
  api: ApiClient;
}

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

function parseOptions(argv: string[]): Options {
  const names = ['cluster', 'port', 'server', 'ca', 'cert', 'key', 'log-file'] as const;
  const { values } = parseArgs({ args: argv, options: Object.fromEntries(names.map((n) => [n, { type: 'string' }])) });
  const missing = names.filter((name) => !values[name]);
  if (missing.length) throw new Error(`pod-server: missing --${missing.join(', --')}`);
  const value = (name: (typeof names)[number]) => String(values[name]);
  const api = new ApiClient({
    server: value('server'),
    caFile: value('ca'),
    certFile: value('cert'),
    keyFile: value('key'),
  });
  return { cluster: value('cluster'), port: Number(value('port')), logFile: value('log-file'), api };
}

/** Lists the pods, then follows their watch until it ends or fails; then again, for ever. */
async function followPods(api: ApiClient, pods: Pods, onSynced: () => void, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const list = await api.request('GET', '/api/v1/pods');
      if (list.status !== 200) throw new Error(`listing pods: HTTP ${list.status}`);
      await pods.resync(list.body.items as PodObject[]);
      onSynced();
      const rv = String(list.body.metadata.resourceVersion);
      await api.watch<PodObject>(
        `/api/v1/pods?watch=1&resourceVersion=${rv}`,
        (event) => onPodEvent(pods, event),
        signal,
      );
    } catch (err) {
      if (!signal.aborted) log(`pods: ${(err as Error).message}; listing again`);
    }
    await sleep(RELIST_PAUSE_MS, signal);
  }
}

function onPodEvent(pods: Pods, event: WatchEvent<PodObject>): void {
  if (event.type === 'ADDED' || event.type === 'MODIFIED') void pods.upsert(event.object);
  else if (event.type === 'DELETED') void pods.remove(podKey(event.object));
  else if (event.type === 'ERROR') throw new Error(`watch error: ${JSON.stringify(event.object)}`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  let synced = false;
  const hooks: ResponderHooks = {
    onHello: (text) => fs.appendFileSync(options.logFile, criLogLine(text)),
    ready: () => synced,
    connections: () => ({ shared: shared.counts, pods: pods.connections() }),
  };
  const nodes = new KwokNodes(options.api);
  const pods = new Pods({ cluster: options.cluster, api: options.api, nodes, hooks, log });
  const shared = new PodListener({ cluster: options.cluster }, hooks);
  await shared.listen(options.port);
  log(`pod server of cluster ${options.cluster} listening on 127.0.0.1:${options.port}`);
  const stop = new AbortController();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stop.abort();
      pods.closeAll();
      shared.close();
      options.api.close();
    });
  }
  await followPods(options.api, pods, () => (synced = true), stop.signal);
  process.exit(0);
}

main().catch((err: Error) => {
  process.stderr.write(`pod-server: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
