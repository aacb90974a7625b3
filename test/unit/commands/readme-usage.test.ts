// The README's "Commands" section shows each command's --help as the command prints it; this
// keeps those copies true when a flag is added or reworded.
import fs from 'node:fs';
import { expect } from 'chai';
import { PEER_USAGE, UNPEER_USAGE } from '../../../src/peering/config.ts';
import { STATUS_USAGE, SYNCER_USAGE } from '../../../src/syncer/config.ts';
import { VIRTUAL_NODE_USAGE } from '../../../src/virtualnode/config.ts';

const README = fs.readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The fenced block of the README that starts with `usage: kube-offload <command> `. */
function readmeUsage(command: string): string | undefined {
  const blocks = README.split(/^```.*$/m);
  return blocks.find((block) => block.startsWith(`\nusage: kube-offload ${command} `))?.slice(1);
}

describe("the README's usage blocks", () => {
  const usages: Record<string, string> = {
    syncer: SYNCER_USAGE,
    'virtual-node': VIRTUAL_NODE_USAGE,
    status: STATUS_USAGE,
    peer: PEER_USAGE,
    unpeer: UNPEER_USAGE,
  };
  for (const [command, usage] of Object.entries(usages)) {
    it(`${command}: the README shows what --help prints`, () => {
      const shown = readmeUsage(command);
      expect(shown, `no usage block of ${command} in the README`).to.be.a('string');
      expect(shown?.trimEnd()).to.equal(usage.trimEnd());
    });
  }

  it('the common flags and exit codes are documented once', () => {
    expect(README.match(/^### Common flags$/gm)).to.have.length(1);
    expect(README.match(/\*\*Exit codes\*\*/g)).to.have.length(1);
  });
});
