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
 * Bytes of the patch's JSON turned into base64 per step: a multiple of 3 (so the pieces join
 * into one base64 text) whose base64, 64 KiB, is a young-generation string. The worst admissible
 * pod's 0.66 MiB patch would otherwise make a 0.9 MiB string in the large-object space, which
 * fills the old generation and brings on full collections.
 */
const BASE64_STEP = 3 * 16 * 1024;

/**
 * Serializes the AdmissionReview response into the bytes sent; the patch only when there is one,
 * base64. The text is what JSON.stringify gives for {apiVersion, kind, response: {uid, allowed,
 * patchType, patch, warnings, status}}, assembled piece by piece so the base64 patch is not
 * scanned again for characters to escape (base64 has none), and written straight into one buffer
 * of its final size: no concatenated string to flatten, measure and encode again on write.
 */
export function encodeReview(uid: string, verdict: AdmissionResponse): { body: Buffer; decision: Decision } {
  if (!isObject(verdict) || typeof verdict.allowed !== 'boolean')
    throw new Error('admission handler returned no verdict');
  // The uid always comes from the request: the API server rejects a response with another one.
  let head = `${REVIEW_HEAD}"uid":${JSON.stringify(uid)},"allowed":${verdict.allowed}`;
  let decision: Decision = verdict.allowed ? 'allowed' : 'denied';
  let patch: Buffer | undefined;
  if (verdict.allowed && verdict.patch && verdict.patch.length > 0) {
    patch = Buffer.from(JSON.stringify(verdict.patch), 'utf8');
    head += ',"patchType":"JSONPatch","patch":"';
    decision = 'patched';
  }
  let tail = patch ? '"' : '';
  if (verdict.warnings && verdict.warnings.length > 0) tail += `,"warnings":${JSON.stringify(verdict.warnings)}`;
  if (verdict.status) tail += `,"status":${JSON.stringify(verdict.status)}`;
  else if (!verdict.allowed) tail += `,"status":${JSON.stringify({ code: 403, message: 'denied by kube-offload' })}`;
  tail += '}}';
  if (!patch) return { body: Buffer.from(head + tail, 'utf8'), decision };

  const headBytes = Buffer.byteLength(head);
  const body = Buffer.allocUnsafe(headBytes + 4 * Math.ceil(patch.length / 3) + Buffer.byteLength(tail));
  let offset = body.write(head, 0, 'utf8');
  for (let start = 0; start < patch.length; start += BASE64_STEP) {
    offset += body.write(patch.toString('base64', start, start + BASE64_STEP), offset, 'latin1');
  }
  body.write(tail, offset, 'utf8');
  return { body, decision };
}
