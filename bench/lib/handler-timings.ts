// Times webhooks/ on the inputs of bench/lib/large-inputs.ts, in a process of its own started by
// the "webhooks" section: the compiled handlers (dist/webhooks, as the image runs them) under the
// Deployment's NODE_OPTIONS, with nothing else on the heap. Prints one JSON object: per case, the
// milliseconds of each timed call (after one untimed call that compiles and warms the code).
//
//   node bench/lib/handler-timings.ts DIST_WEBHOOKS_DIR RUNS
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Affinity from '../../webhooks/affinity.ts';
import type { NodeSelectorRequirement } from '../../webhooks/k8s.ts';
import type * as Placement from '../../webhooks/placement.ts';
import type * as Pods from '../../webhooks/pods.ts';
import type * as Selector from '../../webhooks/selector.ts';
import type { AdmissionContext } from '../../webhooks/types.ts';
import type * as Validate from '../../webhooks/validate.ts';
import { CLUSTERS_ANNOTATION, LIQO_CONVENTION, PLACEMENT_ANNOTATION } from '../../webhooks/keys.ts';
import {
  largestAdmissibleAffinityPod,
  podReview,
  podWithTerms,
  sameKeySelector,
  worstAdmissiblePod,
} from './large-inputs.ts';

/** Case names, shared with bench/sections/webhooks.ts. */
export const CASES = [
  'worst admissible mutation',
  'largest admissible merge',
  'terms 500',
  'terms 4000',
  'terms 8000 LocalAndRemote',
  'terms 8000 Local',
  'terms 8000 nodeSelector 8000',
  'merge 250 KB one-key selector',
  'contradiction In 50000',
  'parse and validate 250 KB selector',
] as const;
export type CaseName = (typeof CASES)[number];

async function load<T>(dir: string, file: string): Promise<T> {
  return (await import(pathToFileURL(path.join(dir, file)).href)) as T;
}

async function main(): Promise<void> {
  const [dir, runsArg] = process.argv.slice(2);
  if (!dir || !runsArg) throw new Error('usage: node bench/lib/handler-timings.ts DIST_WEBHOOKS_DIR RUNS');
  const runs = Number(runsArg);
  const { mutatePod } = await load<typeof Pods>(dir, 'pods.js');
  const { mergeRequiredTerms, isContradictory } = await load<typeof Affinity>(dir, 'affinity.js');
  const { parseSelector } = await load<typeof Selector>(dir, 'selector.js');
  const { validate } = await load<typeof Validate>(dir, 'validate.js');
  const { virtualNodeRequirement } = await load<typeof Placement>(dir, 'placement.js');

  const context: AdmissionContext = { defaultPlacement: 'LocalAndRemote', convention: LIQO_CONVENTION };
  const placed = (count: number, placement: string, spec?: Record<string, unknown>) =>
    podReview(
      podWithTerms(
        count,
        placement === 'Local'
          ? { [PLACEMENT_ANNOTATION]: 'Local' }
          : { [PLACEMENT_ANNOTATION]: placement, [CLUSTERS_ANNOTATION]: 'region=eu' },
        spec,
      ),
    );
  const local = virtualNodeRequirement(LIQO_CONVENTION, 'NotIn');
  const remote = virtualNodeRequirement(LIQO_CONVENTION, 'In');
  const longSelector = sameKeySelector(250_000);
  const oneKeyRequirements = parseSelector(longSelector);
  const values = Array.from({ length: 50_000 }, (_, i) => `v${i}`);
  const inLists: NodeSelectorRequirement[] = [
    { key: 'a', operator: 'In', values },
    { key: 'a', operator: 'In', values: [...values].reverse() },
    { key: 'a', operator: 'NotIn', values },
  ];
  const nodeSelector = Object.fromEntries(Array.from({ length: 8000 }, (_, i) => [`label-${i}`, 'x']));

  const worst = podReview(worstAdmissiblePod());
  const largest = podReview(largestAdmissibleAffinityPod());
  const terms500 = placed(500, 'LocalAndRemote');
  const terms4000 = placed(4000, 'LocalAndRemote');
  const terms8000 = placed(8000, 'LocalAndRemote');
  const terms8000Local = placed(8000, 'Local');
  const terms8000Selector = placed(8000, 'Local', { nodeSelector });
  const selectorReview = podReview({ metadata: { annotations: { [CLUSTERS_ANNOTATION]: longSelector } } });

  const work: Record<CaseName, () => unknown> = {
    'worst admissible mutation': () => mutatePod(worst, context),
    'largest admissible merge': () => mutatePod(largest, context),
    'terms 500': () => mutatePod(terms500, context),
    'terms 4000': () => mutatePod(terms4000, context),
    'terms 8000 LocalAndRemote': () => mutatePod(terms8000, context),
    'terms 8000 Local': () => mutatePod(terms8000Local, context),
    'terms 8000 nodeSelector 8000': () => mutatePod(terms8000Selector, context),
    'merge 250 KB one-key selector': () => mergeRequiredTerms(undefined, [[local], [remote, ...oneKeyRequirements]]),
    'contradiction In 50000': () => [isContradictory(inLists.slice(0, 2)), isContradictory(inLists)],
    'parse and validate 250 KB selector': () => [parseSelector(longSelector), validate(selectorReview, context)],
  };
  const timings: Partial<Record<CaseName, number[]>> = {};
  for (const name of CASES) {
    const run = work[name];
    run();
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      run();
      samples.push(performance.now() - start);
    }
    timings[name] = samples;
  }
  process.stdout.write(`${JSON.stringify(timings)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
