// `kube-offload version` (and `kube-offload --version`): what is running, for bug reports and for
// checking that every component of an install runs the same release.
import { readFileSync } from 'node:fs';
import {
  EXIT,
  OUTPUT_FLAG,
  formatDocument,
  outputFormat,
  outputUsage,
  parseCommandFlags,
  parseFlags,
} from '../common/flags.ts';
import type { OutputFormat } from '../common/flags.ts';

const USAGE = `usage: kube-offload version [-o table|json|yaml]

Prints kube-offload's version, the Node.js runtime and the platform.

${outputUsage(24)}
  -h, --help            this text
`;

export interface VersionInfo {
  version: string;
  node: string;
  platform: string;
}

/** The version from package.json, found next to the sources or the compiled code. */
export function versionInfo(): VersionInfo {
  const candidates = ['../../package.json', '../../../package.json'];
  for (const relative of candidates) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'kube-offload' && pkg.version) {
        return { version: pkg.version, node: process.version, platform: `${process.platform}/${process.arch}` };
      }
    } catch {
      // not at this depth: src/commands/ in a checkout, dist/src/commands/ in the image
    }
  }
  return { version: 'unknown', node: process.version, platform: `${process.platform}/${process.arch}` };
}

export function formatVersion(info: VersionInfo, format: OutputFormat): string {
  return formatDocument(format, info) ?? `kube-offload ${info.version} (node ${info.node}, ${info.platform})\n`;
}

export function parseVersionArgs(argv: string[]): { output: OutputFormat } | 'help' {
  const values = parseFlags(argv, { ...OUTPUT_FLAG, help: { type: 'boolean', short: 'h' } });
  if (values.help) return 'help';
  return { output: outputFormat(values.output) };
}

export async function run(argv: string[]): Promise<number> {
  const config = parseCommandFlags('version', argv, parseVersionArgs, USAGE);
  if (typeof config === 'number') return config;
  process.stdout.write(formatVersion(versionInfo(), config.output));
  return EXIT.ok;
}
