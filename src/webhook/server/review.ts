// AdmissionReview (admission.k8s.io/v1) in and out: checks that a body is a review we can
// answer, and turns a handler's verdict into the response the API server expects.
import type { AdmissionRequest, AdmissionResponse } from '../../../webhooks/types.ts';
import { clipText } from '../../common/log.ts';
import { HttpError } from './body.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export type Decision = 'allowed' | 'denied' | 'patched';

const bad = (message: string): HttpError => new HttpError(400, 'BadRequest', message);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A client's value quoted in a 400 message: short strings and scalars as JSON, anything else by
 * its type only (stringifying a deeply nested value would overflow the stack).
 */
function quoteClientValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(clipText(value, 64));
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** The request of a valid v1 AdmissionReview; throws HttpError(400) naming what is wrong. */
export function parseReview(body: unknown): AdmissionRequest {
  if (!isObject(body)) throw bad('not an AdmissionReview: the body is not a JSON object');
  if (body.kind !== 'AdmissionReview') {
    throw bad(`not an AdmissionReview: kind is ${quoteClientValue(body.kind)}, expected "AdmissionReview"`);
  }
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    const version = quoteClientValue(body.apiVersion);
    throw bad(
      `unsupported AdmissionReview version ${version}: only ${ADMISSION_API_VERSION} is served ` +
        '(set admissionReviewVersions: ["v1"] in the webhook configuration)',
    );
  }
  const request = body.request;
  if (!isObject(request)) throw bad('not an AdmissionReview: "request" is missing');
  if (typeof request.uid !== 'string' || request.uid === '')
    throw bad('not an AdmissionReview: "request.uid" is missing');
  if (!isObject(request.kind) || typeof request.kind.kind !== 'string')
    throw bad('not an AdmissionReview: "request.kind" is missing');
  if (typeof request.operation !== 'string') throw bad('not an AdmissionReview: "request.operation" is missing');
  return request as unknown as AdmissionRequest;
}

const REVIEW_HEAD = `{"apiVersion":${JSON.stringify(ADMISSION_API_VERSION)},"kind":"AdmissionReview","response":{`;

/**
 * Serializes the AdmissionReview response; the patch only when there is one, base64. The text
 * is what JSON.stringify gives for {apiVersion, kind, response: {uid, allowed, patchType, patch,
 * warnings, status}}, assembled piece by piece so the base64 patch (about a kilobyte for a pod)
 * is not scanned again for characters to escape: base64 has none.
 */
export function encodeReview(uid: string, verdict: AdmissionResponse): { json: string; decision: Decision } {
  if (!isObject(verdict) || typeof verdict.allowed !== 'boolean')
    throw new Error('admission handler returned no verdict');
  // The uid always comes from the request: the API server rejects a response with another one.
  let json = `${REVIEW_HEAD}"uid":${JSON.stringify(uid)},"allowed":${verdict.allowed}`;
  let decision: Decision = verdict.allowed ? 'allowed' : 'denied';
  if (verdict.allowed && verdict.patch && verdict.patch.length > 0) {
    const patch = Buffer.from(JSON.stringify(verdict.patch), 'utf8').toString('base64');
    json += `,"patchType":"JSONPatch","patch":"${patch}"`;
    decision = 'patched';
  }
  if (verdict.warnings && verdict.warnings.length > 0) json += `,"warnings":${JSON.stringify(verdict.warnings)}`;
  if (verdict.status) json += `,"status":${JSON.stringify(verdict.status)}`;
  else if (!verdict.allowed) json += `,"status":${JSON.stringify({ code: 403, message: 'denied by kube-offload' })}`;
  return { json: `${json}}}`, decision };
}
