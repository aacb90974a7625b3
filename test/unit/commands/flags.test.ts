// The flag conventions every command shares (src/common/flags.ts): --kubeconfig and --context,
// -n/--namespace, -o/--output, and exit code 2 with a message naming the flag, the value and
// what is allowed. Each command's own parser is checked for them, so they cannot drift apart.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  ConfigError,
  EXIT,
  connectionOf,
  formatDocument,
  namespaceOf,
  outputFormat,
  parseCommandFlags,
  podNamespace,
  usageRows,
} from '../../../src/common/flags.ts';
import { parsePeerArgs, parseUnpeerArgs } from '../../../src/peering/config.ts';
import { parseStatusArgs, parseSyncerArgs } from '../../../src/syncer/config.ts';
import { parseVirtualNodeArgs } from '../../../src/virtualnode/config.ts';
import { parseWebhookArgs } from '../../../src/webhook/config.ts';
import { parseVersionArgs } from '../../../src/commands/version.ts';

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const cli = new URL('../../../src/cli.ts', import.meta.url).pathname;
const exec = promisify(execFile);

async function kubeOffload(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['--disable-warning=ExperimentalWarning', cli, ...args], {
      env: { ...process.env, KUBECONFIG: '/nonexistent' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Each command's parser, with the flags it needs besides the ones under test. */
const COMPONENTS = {
  webhook: (argv: string[], env = {}) => parseWebhookArgs(['--cert-dir', '/tmp/certs', ...argv], env),
  syncer: (argv: string[], env = {}) => parseSyncerArgs(['--cluster-name', 'local', ...argv], env),
  'virtual-node': (argv: string[], env = {}) => parseVirtualNodeArgs(['--cluster-name', 'local', ...argv], env),
};
const CLIENTS = {
  status: (argv: string[], env = {}) => parseStatusArgs(argv, env),
  peer: (argv: string[], env = {}) => parsePeerArgs(['--name', 'eu', '--remote-context', 'eu', ...argv], env),
  unpeer: (argv: string[], env = {}) => parseUnpeerArgs(['--name', 'eu', ...argv], env),
};
const ALL = { ...COMPONENTS, ...CLIENTS };

describe('CLI conventions (src/common/flags.ts)', () => {
  describe('exit codes', () => {
    it('are 0 done, 1 failed while running, 2 bad usage', () => {
      expect(EXIT).to.deep.equal({ ok: 0, failure: 1, usage: 2 });
    });

    it('a bad value is exit 2, and the message names the command, the flag, the value and what is allowed', () => {
      const written: string[] = [];
      const write = process.stderr.write;
      process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
      let code: unknown;
      try {
        code = parseCommandFlags('status', ['-o', 'wide'], parseStatusArgs, 'usage: kube-offload status\n');
      } finally {
        process.stderr.write = write;
      }
      expect(code).to.equal(EXIT.usage);
      expect(written.join('')).to.equal(
        'kube-offload status: --output: "wide" is not one of table, json, yaml\n\nusage: kube-offload status\n',
      );
    });

    it('the CLI exits 2 on bad usage, naming the flag, the value and what is allowed', async function () {
      this.timeout(60_000);
      const cases: [string[], string][] = [
        [['status', '-o', 'wide'], '--output: "wide" is not one of table, json, yaml'],
        [['syncer', '--cluster-name', 'local', '-n', 'Not_A_Namespace'], '--namespace: "Not_A_Namespace"'],
        [['peer', '--name', 'eu', '--remote-context', 'x', '--output=xml'], '--output: "xml" is not one of'],
        [['webhook', '--cert-dir', '/tmp', '--standalone', '--context', 'kind'], '--standalone and --context'],
        [['version', '--bogus'], "Unknown option '--bogus'"],
        [['no-such-command'], '"no-such-command" is not a command (commands: webhook, syncer,'],
        [[], 'a command is required'],
      ];
      const results = await Promise.all(cases.map(([args]) => kubeOffload(...args)));
      cases.forEach(([args, message], index) => {
        expect(results[index]?.code, args.join(' ')).to.equal(EXIT.usage);
        expect(results[index]?.stderr, args.join(' ')).to.include(message).and.include('usage: kube-offload');
        expect(results[index]?.stdout, args.join(' ')).to.equal('');
      });
    });

    it('--help is exit 0 on stdout, and the top-level help lists the conventions and exit codes', async function () {
      this.timeout(30_000);
      const top = await kubeOffload('--help');
      expect(top.code).to.equal(EXIT.ok);
      expect(top.stdout).to.include('--context CTX').and.include('-n, --namespace NS').and.include('exit codes: 0');
      const status = await kubeOffload('status', '--help');
      expect(status.code).to.equal(EXIT.ok);
      expect(status.stdout).to.include('--context CTX').and.include('-o, --output FORMAT');
    });
  });

  describe('--kubeconfig and --context', () => {
    for (const [command, parse] of Object.entries(ALL)) {
      it(`${command} takes both and keeps them`, () => {
        expect(parse(['--kubeconfig', '/k/config', '--context', 'prod'])).to.deep.include({
          kubeconfig: '/k/config',
          context: 'prod',
        });
        const none = parse([]) as unknown as Record<string, unknown>;
        expect(none).to.not.have.property('kubeconfig');
        expect(none).to.not.have.property('context');
      });
    }

    it('refuses empty values naming the flag', () => {
      expect(() => connectionOf({ context: '' })).to.throw(ConfigError, '--context: "" is not a context name');
      expect(() => connectionOf({ kubeconfig: '' })).to.throw(ConfigError, '--kubeconfig: "" is not a file name');
    });

    it('the webhook takes neither with --standalone', () => {
      expect(() => parseWebhookArgs(['--cert-dir', '/c', '--standalone', '--context', 'x'], {})).to.throw(
        /--standalone and --context exclude each other/,
      );
    });
  });

  describe('-n/--namespace', () => {
    it('is the flag, else $POD_NAMESPACE, else kube-offload-system, and a DNS-1123 label', () => {
      expect(namespaceOf('ns1', { POD_NAMESPACE: 'pod-ns' })).to.equal('ns1');
      expect(namespaceOf(undefined, { POD_NAMESPACE: 'pod-ns' })).to.equal('pod-ns');
      expect(namespaceOf(undefined, {})).to.equal('kube-offload-system');
      // In a pod without $POD_NAMESPACE the service account's namespace file says; none here.
      expect(podNamespace({ KUBERNETES_SERVICE_HOST: '10.0.0.1' })).to.equal(
        fs.existsSync(SA_NAMESPACE) ? fs.readFileSync(SA_NAMESPACE, 'utf8').trim() : undefined,
      );
      expect(podNamespace({})).to.equal(undefined);
      expect(() => namespaceOf('Bad_NS', {})).to.throw(ConfigError, '--namespace: "Bad_NS" is not a DNS-1123 label');
    });

    it('is where each component runs: its peer Secrets and its Lease, unless given apart', () => {
      for (const parse of [COMPONENTS.syncer, COMPONENTS['virtual-node']]) {
        expect(parse(['-n', 'ko'])).to.deep.include({ peerNamespace: 'ko', leaseNamespace: 'ko' });
        expect(parse([], { POD_NAMESPACE: 'pod-ns' })).to.deep.include({
          peerNamespace: 'pod-ns',
          leaseNamespace: 'pod-ns',
        });
        expect(
          parse(['--namespace', 'ko', '--peer-namespace', 'peers', '--lease-namespace', 'leases']),
        ).to.deep.include({ peerNamespace: 'peers', leaseNamespace: 'leases' });
      }
      expect(COMPONENTS.webhook(['-n', 'ko'])).to.deep.include({
        namespace: 'ko',
        caSecret: { namespace: 'ko', name: 'kube-offload-webhook-ca' },
      });
      expect(COMPONENTS.webhook([], { POD_NAMESPACE: 'pod-ns' })).to.deep.include({ namespace: 'pod-ns' });
    });

    it('is where peer, unpeer and status find the peer Secrets', () => {
      for (const parse of Object.values(CLIENTS)) {
        expect(parse(['-n', 'ko'])).to.deep.include({ namespace: 'ko' });
        expect(parse([])).to.deep.include({ namespace: 'kube-offload-system' });
      }
    });
  });

  describe('-o/--output', () => {
    it('is table (text: the same), json or yaml on every command that prints', () => {
      for (const parse of [...Object.values(CLIENTS), (argv: string[]) => parseVersionArgs(argv)]) {
        expect(parse([])).to.deep.include({ output: 'table' });
        expect(parse(['-o', 'text'])).to.deep.include({ output: 'table' });
        expect(parse(['-o', 'json'])).to.deep.include({ output: 'json' });
        expect(parse(['--output=yaml'])).to.deep.include({ output: 'yaml' });
        expect(() => parse(['-o', 'wide'])).to.throw(ConfigError, '--output: "wide" is not one of table, json, yaml');
      }
      expect(outputFormat(undefined)).to.equal('table');
    });

    it("prints JSON and YAML the same way everywhere; table is the command's own", () => {
      expect(formatDocument('json', { a: [1] })).to.equal('{\n  "a": [\n    1\n  ]\n}\n');
      expect(formatDocument('yaml', { a: [1] })).to.equal('a:\n  - 1\n');
      expect(formatDocument('table', { a: 1 })).to.equal(undefined);
    });
  });

  it('usageRows aligns flag texts and continues long ones', () => {
    expect(
      usageRows(
        [
          ['--a', 'one\ntwo'],
          ['--a-very-long-flag VALUE', 'three'],
        ],
        12,
      ),
    ).to.equal('  --a       one\n            two\n  --a-very-long-flag VALUE\n            three');
  });
});
