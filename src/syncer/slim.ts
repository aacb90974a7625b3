// What the syncer's informer caches keep of each object (the informers' `transform`). Pure.
//
// At 10,000 replicated objects the caches hold every object twice, local and remote, and the
// memory budget is 150 MiB. So:
// - managedFields go everywhere: nothing here reads them, and they are ~15% of an object;
// - local objects lose kubectl's last-applied-configuration (copies drop it anyway, and for a
//   client-side-applied Secret it is a second copy of the data);
// - remote ConfigMap/Secret copies keep a SHA-256 of their payload instead of the payload: the
//   syncer only ever compares it with the desired copy, never reads it (copy.ts: payloadEqual).
import type { KubeObject } from '../../webhooks/types.ts';
import { withoutManagedFields } from '../kube/transforms.ts';
import { LAST_APPLIED_ANNOTATION } from './copy.ts';
import { PAYLOAD_DIGEST, PAYLOAD_FIELDS, hasPayloadDigest, payloadDigest } from './digest.ts';

/** Transform for local informers. Mutates and returns its argument. */
export function slimLocal(o: KubeObject): KubeObject {
  withoutManagedFields(o);
  const annotations = o.metadata?.annotations;
  if (annotations && LAST_APPLIED_ANNOTATION in annotations) delete annotations[LAST_APPLIED_ANNOTATION];
  return o;
}

/** Transform for remote informers (and our own writes' responses). Mutates and returns its argument. */
export function slimRemote(o: KubeObject): KubeObject {
  withoutManagedFields(o);
  if ((o.kind === 'ConfigMap' || o.kind === 'Secret') && !hasPayloadDigest(o)) {
    o[PAYLOAD_DIGEST] = payloadDigest(o);
    for (const field of PAYLOAD_FIELDS) delete o[field];
  }
  return o;
}
