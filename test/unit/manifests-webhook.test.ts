// The webhook Deployment's memory limit, its V8 flags and its admission gate must stay consistent:
// a heap cap above what the limit can hold turns into OOM kills under load (and with
// failurePolicy Fail into rejected pods), a missing cap into V8 sizing its heap for the node.
//
// The rule, an upper bound from caps rather than from measurements of one workload:
//   idle RSS + old space + young generation + resident bytes per buffered request byte x gate
//   <= memory limit
// where
//   - idle RSS is what the compiled webhook holds ready and idle in cluster mode (code, TLS,
//     informer caches): 79 MiB measured with these flags, rounded up to 80;
//   - the young generation is 3 semi-spaces (two for the scavenger, one for new large objects);
//   - each byte of a request body admitted by --max-buffered-bytes stays resident about 6 times
//     at the worst (the buffer, its string, the parsed objects, and the socket chunks it arrived
//     in until a scavenge frees them): measured as 145 MiB peak with an 8Mi gate and 200 MiB with
//     16Mi under 64 concurrent 3 MiB ConfigMap reviews.
// And the old space must hold the idle heap (~20 MiB) plus the largest review being decided
// (its string and parsed objects, ~3 x 3 MiB) with room to spare, or V8 dies of heap exhaustion.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { parseWebhookArgs } from '../../src/webhook/config.ts';

const MANIFEST = path.join(import.meta.dirname, '..', '..', 'manifests', 'webhook', 'deployment.yaml');
const MIB = 1024 * 1024;

/** Measured idle RSS in cluster mode, rounded up (see above). */
const IDLE_RSS_MIB = 80;
/** Resident bytes per buffered request byte at the worst (see above). */
const RESIDENT_PER_BUFFERED_BYTE = 6;
/** Old space below which a large review can exhaust the heap. */
const MIN_OLD_SPACE_MIB = 48;

interface Container {
  name: string;
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  resources?: { requests?: { memory?: string }; limits?: { memory?: string } };
}

const QUANTITY_UNITS: Record<string, number> = { Ki: 1024, Mi: MIB, Gi: 1024 * MIB, k: 1e3, M: 1e6, G: 1e9, '': 1 };

/** A Kubernetes memory quantity ("256Mi", "1G") in MiB. */
function mebibytes(quantity: string | undefined): number {
  const match = /^(\d+)(Ki|Mi|Gi|k|M|G|)$/.exec(quantity ?? '');
  if (!match) throw new Error(`not a memory quantity: ${quantity}`);
  return (Number(match[1]) * (QUANTITY_UNITS[match[2] as string] as number)) / MIB;
}

/** --name=N (in MiB, as V8 reads these flags) from NODE_OPTIONS. */
function v8Flag(nodeOptions: string, name: string): number | undefined {
  const match = new RegExp(`(?:^|\\s)--${name}[=\\s](\\d+)(?:\\s|$)`).exec(nodeOptions);
  return match ? Number(match[1]) : undefined;
}

function webhookContainer(): Container {
  const docs = parseAllDocuments(fs.readFileSync(MANIFEST, 'utf8')).map((doc) => doc.toJSON());
  const deployment = docs.find((doc) => doc?.kind === 'Deployment');
  const container = (deployment?.spec?.template?.spec?.containers as Container[] | undefined)?.find(
    (candidate) => candidate.name === 'webhook',
  );
  if (!container) throw new Error(`${MANIFEST}: no container named webhook`);
  return container;
}

describe('manifests/webhook/deployment.yaml: memory', function () {
  const container = webhookContainer();
  const nodeOptions = container.env?.find((entry) => entry.name === 'NODE_OPTIONS')?.value ?? '';
  const oldSpace = v8Flag(nodeOptions, 'max-old-space-size');
  const semiSpace = v8Flag(nodeOptions, 'max-semi-space-size');
  const limit = mebibytes(container.resources?.limits?.memory);

  it('caps both V8 generations in NODE_OPTIONS', function () {
    expect(oldSpace, `--max-old-space-size in "${nodeOptions}"`).to.be.a('number');
    expect(semiSpace, `--max-semi-space-size in "${nodeOptions}"`).to.be.a('number');
    expect(oldSpace).to.be.at.least(MIN_OLD_SPACE_MIB);
    expect(semiSpace).to.be.within(1, 16);
  });

  it('fits the idle process, both heap caps and the admission gate into the memory limit', function () {
    const [command, ...flags] = container.args ?? [];
    expect(command).to.equal('webhook');
    const config = parseWebhookArgs(flags);
    if (config === 'help') throw new Error('help');
    const gateMiB = config.maxBufferedBytes / MIB;
    const budget =
      IDLE_RSS_MIB + (oldSpace as number) + 3 * (semiSpace as number) + RESIDENT_PER_BUFFERED_BYTE * gateMiB;
    expect(
      budget,
      `${IDLE_RSS_MIB} + ${oldSpace} + 3 x ${semiSpace} + ${RESIDENT_PER_BUFFERED_BYTE} x ${gateMiB}`,
    ).to.be.at.most(limit);
  });

  it('requests at least what the webhook holds when idle', function () {
    expect(mebibytes(container.resources?.requests?.memory)).to.be.at.least(IDLE_RSS_MIB);
  });
});
