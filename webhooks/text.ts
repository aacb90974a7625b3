// Formatting of user-visible text: admission warnings and quoted values in messages.

import { toJson } from './json.ts';

const WARNING_PREFIX = 'kube-offload: ';
/** Kubernetes asks for warnings of at most 120 characters if possible; over 256 they are truncated. */
export const WARNING_MAX = 120;

/** Control characters (including newlines) would break kubectl's one-line warning output. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

/** "kube-offload: <text>", on one line, cut to WARNING_MAX characters. */
export function warning(text: string): string {
  const full = WARNING_PREFIX + oneLine(text);
  return full.length <= WARNING_MAX ? full : `${full.slice(0, WARNING_MAX - 3)}...`;
}

/**
 * A user-supplied value quoted for a message: JSON string syntax (so `"Remot"`), cut to `max`
 * characters so a huge annotation cannot blow up a response. Non-strings are shown as JSON.
 */
export function quote(value: unknown, max = 100): string {
  if (typeof value !== 'string') {
    const json = toJson(value, max) ?? String(value);
    return json.length <= max ? json : `${json.slice(0, max)}...`;
  }
  return value.length <= max ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, max))}...`;
}
