// Plain-text answers, as the kubelet gives them, on a response or on a socket whose upgrade we
// refuse (after an 'upgrade' event there is no ServerResponse, only the raw socket).
import http from 'node:http';
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export function replyText(
  res: ServerResponse,
  statusCode: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return void res.destroy();
  const body = text.endsWith('\n') ? text : `${text}\n`;
  res.writeHead(statusCode, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

export function replyJson(res: ServerResponse, statusCode: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(statusCode, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Answers an upgrade request with an ordinary HTTP error and closes the connection. */
export function refuseUpgrade(
  socket: Duplex,
  statusCode: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  if (socket.destroyed) return;
  const body = text.endsWith('\n') ? text : `${text}\n`;
  const lines = [
    `HTTP/1.1 ${statusCode} ${http.STATUS_CODES[statusCode] ?? ''}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
