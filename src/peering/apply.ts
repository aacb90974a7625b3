// Idempotent apply of the remote identities: read the object, and send a server-side apply only
// when what is there does not already contain what we want. So a second `peer` sends no write at
// all, while fields the apiserver defaults (or others own) never count as a difference.
import type { KubeObject } from '../../webhooks/types.ts';
import { FIELD_MANAGER, objectPathOf } from './api.ts';
import type { PeeringClient } from './api.ts';

export type ApplyAction = 'created' | 'configured' | 'unchanged';

/**
 * True when `actual` holds everything in `wanted`: objects key by key (extra keys in `actual` are
 * fine: defaults, status, others' fields), arrays element by element with the same length.
 */
export function contains(actual: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted)) {
    if (!Array.isArray(actual) || actual.length !== wanted.length) return false;
    return wanted.every((item, index) => contains(actual[index], item));
  }
  if (wanted !== null && typeof wanted === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const have = actual as Record<string, unknown>;
    return Object.entries(wanted as Record<string, unknown>).every(([key, value]) => contains(have[key], value));
  }
  return actual === wanted;
}

/** Applies one object (server-side apply, our field manager) unless it is already as wanted. */
export async function applyObject(client: PeeringClient, object: KubeObject): Promise<ApplyAction> {
  const path = objectPathOf(object);
  const live = await client.getOrUndefined(path);
  if (live && contains(live, object)) return 'unchanged';
  await client.patch(path, object, 'apply', { fieldManager: FIELD_MANAGER, force: true });
  return live ? 'configured' : 'created';
}
