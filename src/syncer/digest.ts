// The payload digest that slimmed remote cache entries carry instead of a ConfigMap's or Secret's
// data (see slim.ts). Pure.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../webhooks/types.ts';

/** Where a slimmed cache entry keeps the digest of the payload it dropped. Never sent anywhere. */
export const PAYLOAD_DIGEST = '@kube-offload/payload-sha256';
export const PAYLOAD_FIELDS = ['data', 'binaryData'] as const;

/** SHA-256 of a ConfigMap's or Secret's data and binaryData; empty and absent maps are equal. */
export function payloadDigest(object: KubeObject): string {
  const hash = createHash('sha256');
  for (const field of PAYLOAD_FIELDS) {
    const map = object[field] as Record<string, unknown> | null | undefined;
    if (!map || typeof map !== 'object') continue;
    const keys = Object.keys(map).sort();
    if (keys.length === 0) continue;
    // Length-prefixed, so no choice of keys and values can make two payloads hash alike.
    hash.update(`${field}:${keys.length};`);
    for (const key of keys) {
      const value = String(map[key]);
      hash.update(`${key.length}:${key}${value.length}:`);
      hash.update(value);
    }
  }
  return hash.digest('base64');
}

/** True when `actual` is a cache entry whose payload was replaced by its digest. */
export function hasPayloadDigest(actual: KubeObject): boolean {
  return typeof actual[PAYLOAD_DIGEST] === 'string';
}
