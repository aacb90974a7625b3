// Building AdmissionResponses: patches are computed by diffing the untouched request object
// against a mutated deep clone, so handlers only ever describe the desired object.

import jsonpatch from 'fast-json-patch';
import type { AdmissionResponse, JsonPatchOperation } from './types.ts';

export function allow(uid: string, warnings: readonly string[] = []): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (warnings.length > 0) response.warnings = [...new Set(warnings)];
  return response;
}

/** Allowed, with the RFC 6902 diff original -> mutated when there is one (no patch field otherwise). */
export function allowWithDiff(uid: string, original: object, mutated: object, warnings: readonly string[] = []): AdmissionResponse {
  const response = allow(uid, warnings);
  const patch = jsonpatch.compare(original, mutated) as JsonPatchOperation[];
  if (patch.length > 0) response.patch = patch;
  return response;
}

export function deny(uid: string, code: number, reason: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code, reason, message } };
}

/** JSON objects from the API server clone exactly; used before mutating. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
