// X-Stream-Protocol-Version negotiation (k8s.io/streaming httpstream.Handshake): the first of
// the client's protocols, in the client's order, that the server supports.

export type Negotiation = { ok: true; protocol: string } | { ok: false; statusCode: 400 | 403; message: string };

export function negotiateProtocol(header: string | string[] | undefined, supported: string[]): Negotiation {
  const offered = [header ?? []]
    .flat()
    .flatMap((value) => value.split(','))
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (offered.length === 0) {
    return {
      ok: false,
      statusCode: 400,
      message: 'unable to upgrade: header X-Stream-Protocol-Version is missing or empty',
    };
  }
  const protocol = offered.find((p) => supported.includes(p));
  if (!protocol) {
    const message =
      'unable to upgrade: unable to negotiate protocol: ' +
      `client supports [${offered.join(' ')}], server accepts [${supported.join(' ')}]`;
    return { ok: false, statusCode: 403, message };
  }
  return { ok: true, protocol };
}

/** The WebSocket subprotocol to accept: the client's first that we support; '' when it offered none. */
export function pickWebSocketProtocol(offered: Iterable<string>, supported: string[]): string | undefined {
  const list = [...offered];
  if (list.length === 0) return '';
  return list.find((p) => supported.includes(p));
}
