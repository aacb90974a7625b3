// `kube-offload sandbox up|down|status [--dir D] [--no-kube-offload] [--no-real-nodes] [--audit]`
//
// up      builds/reuses the control-plane binaries, starts the local cluster and the remotes
//         ("remote", eu-west, and with --remotes 2, the default, "remote-us", us-east) and
//         kube-offload's components as background processes that outlive this command, with
//         one real node in local and remote (unless --no-real-nodes); the components find the
//         remotes through the peer Secrets `kube-offload peer` writes; writes
//         <dir>/<cluster>.kubeconfig and <dir>/state.json; returns when everything is ready.
// down    stops every process recorded in <dir> (checking each pid is still ours), verifies
//         they are gone, removes <dir>.
// status  prints each component up/down (and ready); exit 0 when all are up and ready.
//
// <dir> defaults to .sandbox in the working directory.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBinaries } from '../sandbox/binaries.ts';
import { readState, sandboxStatus, startSandbox, stopSandboxDir } from '../sandbox/sandbox.ts';
import { kubeOffloadComponents } from '../dev/components.ts';
import { EXIT, formatDocument, outputFormat, outputUsage } from '../common/flags.ts';
import type { OutputFormat } from '../common/flags.ts';

const USAGE = `usage: kube-offload sandbox up|down|status [--dir DIR] [--remotes 1|2] [--no-kube-offload] [--no-real-nodes] [--audit]

  up       start the local and remote clusters (plus kube-offload, peered with each remote) in the background
  down     stop every process the sandbox started and remove DIR
  status   show each component up/down

  --dir DIR            sandbox directory (default: .sandbox)
  --remotes 1|2        up: remote clusters (default 2): "remote" (region eu-west, with a real node) and
                       "remote-us" (region us-east, KWOK workers only); each peered with kube-offload peer
  --no-kube-offload    up: clusters only, no webhook/syncer/virtual node, no peering
  --no-real-nodes      up: fake (kwok) workers only; no real node (containerd, kubelet) per cluster,
                       which needs root and Debian packages (installed when missing)
  --audit              up: write apiserver audit logs (DIR/<cluster>/logs/audit.log)
${outputUsage(23)} (status)
`;

function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        dir: { type: 'string', default: '.sandbox' },
        remotes: { type: 'string', default: '2' },
        'no-kube-offload': { type: 'boolean', default: false },
        'no-real-nodes': { type: 'boolean', default: false },
        audit: { type: 'boolean', default: false },
        output: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    err(`kube-offload sandbox: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [sub, ...extra] = positionals;
  if (!sub || extra.length) {
    err(USAGE);
    return 2;
  }
  const dir = path.resolve(values.dir);
  if (values.remotes !== '1' && values.remotes !== '2') {
    err(`kube-offload sandbox: --remotes: "${values.remotes}" is not one of 1, 2\n\n${USAGE}`);
    return 2;
  }
  let output: OutputFormat;
  try {
    output = outputFormat(values.output);
  } catch (e) {
    err(`kube-offload sandbox: ${(e as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  switch (sub) {
    case 'up':
      return up(dir, {
        remotes: values.remotes === '1' ? 1 : 2,
        withKubeOffload: !values['no-kube-offload'],
        realNodes: !values['no-real-nodes'],
        audit: values.audit,
      });
    case 'down':
      return down(dir);
    case 'status':
      return status(dir, output);
    default:
      err(`kube-offload sandbox: unknown subcommand "${sub}"\n\n${USAGE}`);
      return 2;
  }
}

interface UpOptions {
  remotes: 1 | 2;
  withKubeOffload: boolean;
  realNodes: boolean;
  audit: boolean;
}

async function up(dir: string, opts: UpOptions): Promise<number> {
  const t0 = Date.now();
  const current = await sandboxStatus(dir);
  if (current.state && current.processes.length > 0 && current.processes.every((p) => p.up && p.ready !== false)) {
    err(`sandbox already up in ${dir} (run "kube-offload sandbox down" first to restart it)`);
    printKubeconfigs(dir);
    return 0;
  }
  let binDir: string;
  try {
    binDir = await ensureBinaries({ progress: process.stderr });
  } catch (e) {
    err(`kube-offload sandbox up: ${(e as Error).message}`);
    return 1;
  }
  try {
    await startSandbox({
      dir,
      binDir,
      persistent: true,
      components: opts.withKubeOffload ? kubeOffloadComponents : [],
      realNodes: opts.realNodes,
      remotes: opts.remotes,
      audit: opts.audit,
      log: (line) => err(`sandbox: ${line}`),
    });
  } catch (e) {
    err(`kube-offload sandbox up failed: ${(e as Error).message}`);
    err(`logs are under ${dir}; "kube-offload sandbox down" cleans up`);
    return 1;
  }
  err(`sandbox up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  printKubeconfigs(dir);
  return 0;
}

function printKubeconfigs(dir: string): void {
  const rel = (f: string) => path.relative(process.cwd(), f) || f;
  const clusters = Object.entries(readState(dir)?.clusters ?? {});
  const width = Math.max(0, ...clusters.map(([name]) => name.length + 1));
  for (const [name, cluster] of clusters) {
    process.stdout.write(`${`${name}:`.padEnd(width)} KUBECONFIG=${rel(cluster.kubeconfig)}\n`);
  }
}

async function down(dir: string): Promise<number> {
  try {
    const stopped = await stopSandboxDir(dir);
    if (stopped.length === 0) err(`nothing running in ${dir}`);
    for (const r of stopped) err(`stopped ${r.name} (pid ${r.pid})`);
    return 0;
  } catch (e) {
    err(`kube-offload sandbox down: ${(e as Error).message}`);
    return 1;
  }
}

async function status(dir: string, output: OutputFormat): Promise<number> {
  const { state, processes } = await sandboxStatus(dir);
  const allUp = state !== undefined && processes.length > 0 && processes.every((p) => p.up && p.ready !== false);
  const document = formatDocument(output, { dir, processes, clusters: state?.clusters ?? {} });
  if (document !== undefined) {
    process.stdout.write(document);
    return allUp ? EXIT.ok : EXIT.failure;
  }
  if (!state && processes.length === 0) {
    process.stdout.write(`no sandbox in ${dir}\n`);
    return EXIT.failure;
  }
  const rows = processes.map((p) => [
    p.name,
    p.up ? (p.ready === false ? 'up (not ready)' : 'up') : 'down',
    p.up ? String(p.pid) : '-',
  ]);
  const width = Math.max(9, ...rows.map((r) => r[0]!.length));
  let out = `${'COMPONENT'.padEnd(width)}  ${'STATUS'.padEnd(14)}  PID\n`;
  for (const r of rows) out += `${r[0]!.padEnd(width)}  ${r[1]!.padEnd(14)}  ${r[2]}\n`;
  if (state) {
    const clusters = Object.entries(state.clusters);
    const nameWidth = Math.max(...clusters.map(([name]) => name.length));
    out += '\n';
    for (const [name, cluster] of clusters)
      out += `${name.padEnd(nameWidth)}  ${cluster.server}  KUBECONFIG=${cluster.kubeconfig}\n`;
  } else {
    out += `\nincomplete: no ${path.join(dir, 'state.json')} ("sandbox up" did not finish); run "kube-offload sandbox down"\n`;
  }
  process.stdout.write(out);
  return state && processes.every((p) => p.up && p.ready !== false) ? 0 : 1;
}
