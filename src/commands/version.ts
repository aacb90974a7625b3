// `kube-offload version` (and `kube-offload --version`): what is running, for bug reports and for
// checking that every component of an install runs the same release.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';

const USAGE = `usage: kube-offload version [-o text|json|yaml]

Prints kube-offload's version, the Node.js runtime and the platform.`;

const FORMATS = ['text', 'json', 'yaml'] as const;
type Format = (typeof FORMATS)[number];

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

export function formatVersion(info: VersionInfo, format: Format): string {
  if (format === 'json') return `${JSON.stringify(info, null, 2)}\n`;
  if (format === 'yaml') return stringify(info);
  return `kube-offload ${info.version} (node ${info.node}, ${info.platform})\n`;
}

export async function run(argv: string[]): Promise<number> {
  let format: string;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { output: { type: 'string', short: 'o', default: 'text' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    format = values.output;
  } catch (error) {
    process.stderr.write(`kube-offload version: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (!(FORMATS as readonly string[]).includes(format)) {
    process.stderr.write(`kube-offload version: -o "${format}" is not one of ${FORMATS.join(', ')}\n`);
    return 2;
  }
  process.stdout.write(formatVersion(versionInfo(), format as Format));
  return 0;
}
