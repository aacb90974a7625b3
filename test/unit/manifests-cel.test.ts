// The validating webhook's matchConditions skip the call when CEL can vouch for every
// kube-offload.io value of an object. For kube-offload.io/clusters that is a regular expression
// over the selector: it must accept only selectors the webhook itself would accept, or a bad
// selector would slip through unchecked. CEL's matches() is RE2; the patterns use only syntax
// that means the same in RE2 and JavaScript (classes, groups, alternation, ?, *, +, {n}, ^, $).
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { parse } from 'yaml';
import {
  CLUSTERS_ANNOTATION,
  MAX_CLUSTER_SELECTOR_LENGTH,
  MAX_CLUSTER_SELECTOR_REQUIREMENTS,
} from '../../webhooks/keys.ts';
import { findProblems } from '../../webhooks/validate.ts';
import type { AdmissionRequest } from '../../webhooks/types.ts';

const manifest = path.join(import.meta.dirname, '..', '..', 'manifests', 'webhook', 'validating.yaml');

interface Webhook {
  name: string;
  matchConditions?: Array<{ name: string; expression: string }>;
}

const webhooks = (parse(fs.readFileSync(manifest, 'utf8')) as { webhooks: Webhook[] }).webhooks;
const expressions = webhooks.flatMap((w) => (w.matchConditions ?? []).map((c) => c.expression));
// Every clusters clause:
// `!(k == 'kube-offload.io/clusters' && size(M[k]) <= MAX && (M[k] + ',').matches('SHAPE') && !M[k].matches('GUARD'))`
const CLAUSE =
  /!\(k == 'kube-offload\.io\/clusters' && size\(([a-zA-Z.]+)\[k\]\) <= (\d+) && \(([a-zA-Z.]+)\[k\] \+ ','\)\.matches\('([^']+)'\) && !([a-zA-Z.]+)\[k\]\.matches\('([^']+)'\)\)/g;
const clauses = expressions.flatMap((e) =>
  [...e.matchAll(CLAUSE)].map((m) => ({
    map: m[1],
    maxLength: Number(m[2]),
    shape: m[4] as string,
    sameMap: m[1] === m[3] && m[1] === m[5],
    guard: m[6] as string,
  })),
);
const shape = new RegExp(clauses[0]?.shape ?? '^$');
const guard = new RegExp(clauses[0]?.guard ?? '');

/** What the matchCondition concludes: true = CEL vouches for the selector, no webhook call. */
const maxLength = clauses[0]?.maxLength ?? 0;
const vouches = (selector: string): boolean =>
  selector.length <= maxLength && shape.test(`${selector},`) && !guard.test(selector);

/** Whether the webhook itself accepts the selector on a Pod. */
function webhookAccepts(selector: string): boolean {
  const request = {
    uid: 'u',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', annotations: { [CLUSTERS_ANNOTATION]: selector } },
      spec: { containers: [] },
    },
  } as unknown as AdmissionRequest;
  const findings = findProblems(request);
  return findings !== undefined && findings.invalid.length === 0 && findings.forbidden.length === 0;
}

describe('validating webhook matchConditions: cluster selectors CEL vouches for', () => {
  it('has one clusters clause per annotation map the webhook checks, all with the same two patterns', () => {
    expect(clauses.map((c) => c.map)).to.deep.equal([
      'object.metadata.annotations',
      'object.spec.template.metadata.annotations',
      'object.spec.jobTemplate.metadata.annotations',
      'object.spec.jobTemplate.spec.template.metadata.annotations',
      'object.metadata.annotations',
    ]);
    for (const clause of clauses) {
      expect(clause.sameMap).to.equal(true);
      expect(clause.shape).to.equal(clauses[0]?.shape);
      expect(clause.guard).to.equal(clauses[0]?.guard);
      expect(clause.maxLength).to.equal(clauses[0]?.maxLength);
    }
  });

  it("vouches only for selectors too short to pass the webhook's limits, so long ones reach the webhook", () => {
    // A requirement takes at least two characters with its comma: within the length CEL vouches
    // for, no selector can carry more requirements than the webhook allows.
    expect(maxLength).to.be.greaterThan(0);
    expect(Math.ceil((maxLength + 1) / 2)).to.be.at.most(MAX_CLUSTER_SELECTOR_REQUIREMENTS);
    expect(maxLength).to.be.at.most(MAX_CLUSTER_SELECTOR_LENGTH);
    const tooMany = Array.from({ length: MAX_CLUSTER_SELECTOR_REQUIREMENTS + 1 }, (_, i) => `k${i}=v`).join(',');
    expect(vouches(tooMany), 'a selector over the requirement limit').to.equal(false);
    expect(webhookAccepts(tooMany), 'a selector over the requirement limit').to.equal(false);
    const longValid = Array.from({ length: 20 }, (_, i) => `topology.kubernetes.io/zone-${i}!=lab`).join(',');
    expect(vouches(longValid), 'a long valid selector').to.equal(false);
    expect(webhookAccepts(longValid), 'a long valid selector').to.equal(true);
  });

  it('vouches for common selectors, which the webhook accepts too', () => {
    for (const selector of [
      'topology.kubernetes.io/region in (eu-west,eu-central)',
      'topology.kubernetes.io/region in (eu-west, eu-central), kube-offload.io/remote-cluster!=lab',
      'region=eu',
      'region==eu,tier notin (bronze)',
      '!legacy',
      'gpu',
      ' region = eu ',
      'failure-domain.beta.kubernetes.io/zone=eu-west-1a',
      'in=x,notin in (in)',
    ]) {
      expect(vouches(selector), selector).to.equal(true);
      expect(webhookAccepts(selector), selector).to.equal(true);
    }
  });

  it('sends what it cannot vouch for to the webhook: bad selectors, and valid ones outside the common grammar', () => {
    const bad = [
      'tier in (gold',
      'a=b,',
      ',',
      '-a=b',
      'a=-b',
      'Example.com/a=b',
      'a/b/c=d',
      'a=b/c',
      '!a=b',
      `a=${'v'.repeat(64)}`,
      `${'k'.repeat(64)}=v`,
    ];
    for (const selector of bad) {
      expect(vouches(selector), selector).to.equal(false);
      expect(webhookAccepts(selector), selector).to.equal(false);
    }
    // Valid, but left to the webhook: Gt/Lt, empty values, an empty selector, tabs, long keys.
    for (const selector of [
      'cpu>4',
      'a=',
      'a in ()',
      'a in (b,)',
      '',
      'a\t=b',
      `${'p'.repeat(30)}.io/${'n'.repeat(40)}=v`,
    ]) {
      expect(vouches(selector), JSON.stringify(selector)).to.equal(false);
      expect(webhookAccepts(selector), JSON.stringify(selector)).to.equal(true);
    }
  });

  it('never vouches for a selector the webhook rejects (random token soup)', () => {
    const unit = fc.constantFrom(
      'a',
      'B',
      '1',
      '-',
      '_',
      '.',
      '/',
      '=',
      '!',
      '(',
      ')',
      ',',
      ' ',
      '\t',
      'in',
      'notin',
      '<',
      '>',
      'x.io/',
      'eu-west',
      '"',
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 40 }), (selector) => !vouches(selector) || webhookAccepts(selector)),
      { numRuns: 20_000 },
    );
  });

  it('never vouches for a selector the webhook rejects (near-valid requirements, names around 63 characters)', () => {
    const chars = (alphabet: string, max: number) =>
      fc.string({ unit: fc.constantFrom(...alphabet.split('')), minLength: 0, maxLength: max });
    const name = fc.oneof(
      chars('aZ09-_.', 5),
      chars('a-', 70),
      fc.integer({ min: 60, max: 66 }).map((n) => 'n'.repeat(n)),
    );
    const prefix = fc.oneof(
      fc.constant(''),
      chars('a0-.Z_', 8).map((p) => `${p}/`),
      fc.constant('x.io/'),
      fc.constant('a/b/'),
    );
    const key = fc.tuple(prefix, name).map(([p, n]) => p + n);
    const value = fc.oneof(name, fc.constant(''), chars('a/=(', 3));
    const requirement = fc.oneof(
      key,
      key.map((k) => `!${k}`),
      fc.tuple(key, fc.constantFrom('=', '==', '!=', ' = ', '>', '!'), value).map(([k, op, v]) => `${k}${op}${v}`),
      fc
        .tuple(
          key,
          fc.constantFrom(' in ', ' notin ', ' in', 'in '),
          fc.array(value, { maxLength: 3 }),
          fc.constantFrom(')', '', ',)'),
        )
        .map(([k, op, vs, close]) => `${k}${op}(${vs.join(',')}${close}`),
    );
    fc.assert(
      fc.property(
        fc.array(requirement, { minLength: 1, maxLength: 3 }),
        fc.constantFrom(',', ', ', ' ,', ',,'),
        (requirements, separator) => {
          const selector = requirements.join(separator);
          return !vouches(selector) || webhookAccepts(selector);
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
