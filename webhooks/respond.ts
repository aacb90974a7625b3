// Building AdmissionResponses. A mutating handler copies the request object (cloneForWrites),
// mutates the copy and answers allowWithDiff(original, copy).

import { diff } from './patch.ts';
import type { AdmissionResponse } from './types.ts';

export function allow(uid: string, warnings: readonly string[] = []): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (warnings.length > 0) response.warnings = [...new Set(warnings)];
  return response;
}

/** Allowed, with the RFC 6902 diff original -> mutated when there is one (no patch field otherwise). */
export function allowWithDiff(
  uid: string,
  original: object,
  mutated: object,
  warnings: readonly string[] = [],
): AdmissionResponse {
  const response = allow(uid, warnings);
  const patch = diff(original, mutated);
  if (patch.length > 0) response.patch = patch;
  return response;
}

export function deny(uid: string, code: number, reason: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code, reason, message } };
}
