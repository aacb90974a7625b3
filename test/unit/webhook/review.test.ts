import { expect } from 'chai';
import fc from 'fast-check';
import { encodeReview } from '../../../src/webhook/server/review.ts';
import type { AdmissionResponse } from '../../../webhooks/types.ts';

/** The reference: the review as an object, serialized by JSON.stringify. */
function reference(uid: string, verdict: AdmissionResponse): string {
  const response: Record<string, unknown> = { uid, allowed: verdict.allowed };
  if (verdict.allowed && verdict.patch && verdict.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(verdict.patch), 'utf8').toString('base64');
  }
  if (verdict.warnings && verdict.warnings.length > 0) response.warnings = verdict.warnings;
  if (verdict.status) response.status = verdict.status;
  else if (!verdict.allowed) response.status = { code: 403, message: 'denied by kube-offload' };
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
}

describe('review: encodeReview', () => {
  it('writes exactly what JSON.stringify writes for the review object', () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const verdict = fc.record(
      {
        uid: text,
        allowed: fc.boolean(),
        patch: fc.array(
          fc.record(
            {
              op: fc.constantFrom('add' as const, 'remove' as const),
              path: text,
              value: fc.jsonValue({ maxDepth: 2 }),
            },
            { requiredKeys: ['op', 'path'] },
          ),
          { maxLength: 3 },
        ),
        warnings: fc.array(text, { maxLength: 2 }),
        status: fc.record({ code: fc.integer(), message: text, reason: text }, { requiredKeys: ['code', 'message'] }),
      },
      { requiredKeys: ['uid', 'allowed'] },
    );
    fc.assert(
      fc.property(text, verdict, (uid, answer) => {
        const json = encodeReview(uid, answer).body.toString('utf8');
        expect(json).to.equal(reference(uid, answer));
        JSON.parse(json);
      }),
      { numRuns: 1000 },
    );
  });

  it('writes a patch larger than one base64 step (49,152 bytes) as one base64 text', () => {
    // Lengths around the step and around multiples of 3, with multi-byte characters on the way.
    for (const length of [49_150, 49_151, 49_152, 49_153, 150_001]) {
      const value = 'aé€𝄞'.repeat(Math.ceil(length / 4)).slice(0, length);
      const verdict: AdmissionResponse = {
        uid: 'u',
        allowed: true,
        patch: [{ op: 'add', path: '/metadata/annotations/big', value }],
        warnings: ['w'],
      };
      const json = encodeReview('u', verdict).body.toString('utf8');
      expect(json).to.equal(reference('u', verdict));
      const patch = JSON.parse(Buffer.from(JSON.parse(json).response.patch, 'base64').toString('utf8'));
      expect(patch[0].value).to.equal(value);
    }
  });

  it('tells allowed, patched and denied apart', () => {
    expect(encodeReview('u', { uid: 'x', allowed: true }).decision).to.equal('allowed');
    expect(encodeReview('u', { uid: 'x', allowed: true, patch: [] }).decision).to.equal('allowed');
    expect(encodeReview('u', { uid: 'x', allowed: true, patch: [{ op: 'remove', path: '/a' }] }).decision).to.equal(
      'patched',
    );
    expect(encodeReview('u', { uid: 'x', allowed: false, patch: [{ op: 'remove', path: '/a' }] }).decision).to.equal(
      'denied',
    );
  });

  it('throws on something that is not a verdict', () => {
    expect(() => encodeReview('u', undefined as unknown as AdmissionResponse)).to.throw('no verdict');
    expect(() => encodeReview('u', { uid: 'u' } as unknown as AdmissionResponse)).to.throw('no verdict');
  });
});
