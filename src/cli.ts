// `kube-offload <command> [flags]`: each command lives in src/commands/<command>.ts and exports
// `run(argv): Promise<number>` (the exit code, one of EXIT in src/common/flags.ts), so commands
// load only what they need.
// `sandbox` and `demo` are development commands: the product build (tsconfig.build.json, the
// image) leaves them and the harness out, and says so when asked for them.

import { EXIT } from './common/flags.ts';

const COMMANDS: Record<string, string> = {
  webhook: 'admission server (/mutate/pods, /mutate/workloads, /mutate/replicated, /validate)',
  syncer: 'copies stamped objects into each remote twin namespace',
  'virtual-node': 'virtual node provider: runs pods bound to a virtual node in its remote cluster',
  peer: 'connects a remote cluster: identities and tokens there, kubeconfig Secrets here',
  unpeer: 'disconnects a remote cluster and removes what kube-offload put there',
  status: 'each remote: reachable, virtual node, twins, objects in sync, offloaded pods; each namespace',
  sandbox: 'up|down|status: two local clusters plus kube-offload',
  demo: 'brings the sandbox up and deploys the micro-service demo',
  version: 'prints the version (also: kube-offload --version)',
};

const DEVELOPMENT_COMMANDS = new Set(['sandbox', 'demo']);

// The flag conventions and exit codes every command follows (src/common/flags.ts).
const CONVENTIONS = `flags (where they apply; "kube-offload <command> --help" lists them all):
  --kubeconfig FILE     the local cluster (default: $KUBECONFIG's files merged, else ~/.kube/config,
                        else the in-cluster service account)
  --context CTX         the context to use in that kubeconfig
  -n, --namespace NS    where the components run and the peer Secrets are (default: the pod's
                        namespace: $POD_NAMESPACE, else its service account's; else kube-offload-system)
  -o, --output FORMAT   table, json or yaml (commands that print)

exit codes: 0 done, 1 failed while running, 2 bad usage (the message names the flag and the value)
`;

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, what]) => `  ${name.padEnd(13)} ${what}`);
  return `usage: kube-offload <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\n${CONVENTIONS}`;
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  const command = first === '--version' ? 'version' : first;
  if (!command) {
    process.stderr.write(`kube-offload: a command is required\n\n${usage()}`);
    return EXIT.usage;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage());
    return EXIT.ok;
  }
  if (!(command in COMMANDS)) {
    process.stderr.write(
      `kube-offload: "${command}" is not a command (commands: ${Object.keys(COMMANDS).join(', ')})\n\n${usage()}`,
    );
    return EXIT.usage;
  }
  // Sources run as .ts (type stripping); the image runs the compiled .js.
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const module = await loadCommand(command, extension);
  if (!module) {
    process.stderr.write(
      `kube-offload: "${command}" is a development command, not part of this build; run it from a checkout (npx kube-offload ${command})\n`,
    );
    return EXIT.usage;
  }
  return module.run(rest);
}

type Command = { run: (argv: string[]) => Promise<number> };

async function loadCommand(command: string, extension: string): Promise<Command | undefined> {
  try {
    return (await import(`./commands/${command}.${extension}`)) as Command;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && DEVELOPMENT_COMMANDS.has(command))
      return undefined;
    throw error;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
