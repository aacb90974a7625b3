// The meta/v1 Status that ends a remote command on the error stream (channel 3). Protocols v4
// and v5 carry it as JSON (kubectl reads the exit code from details.causes); v1 to v3 carry
// only the message, and nothing on success.

export interface CommandStatus {
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: Array<{ reason?: string; message?: string }> };
}

const NON_ZERO_EXIT = 'NonZeroExitCode';
const EXIT_CODE_CAUSE = 'ExitCode';

function toJson(status: CommandStatus): Buffer {
  return Buffer.from(JSON.stringify({ metadata: {}, ...status }));
}

export function successStatus(): Buffer {
  return toJson({ status: 'Success' });
}

/** What the kubelet writes when a command exits non-zero. */
export function exitCodeStatus(code: number): Buffer {
  return toJson({
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${code}`,
    reason: NON_ZERO_EXIT,
    details: { causes: [{ reason: EXIT_CODE_CAUSE, message: String(code) }] },
  });
}

export function internalErrorStatus(message: string): Buffer {
  return toJson({
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    code: 500,
  });
}

/** A Status from an API error (the remote refused the exec), kept as the remote phrased it. */
export function failureStatus(code: number, message: string, reason?: string): Buffer {
  return toJson({ status: 'Failure', message, code, ...(reason ? { reason } : {}) });
}

export function parseStatus(json: Buffer): CommandStatus | undefined {
  try {
    const parsed: unknown = JSON.parse(json.toString('utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as CommandStatus) : undefined;
  } catch {
    return undefined;
  }
}

/** The exit code a Status reports: 0 on success, undefined when it is some other failure. */
export function exitCodeOf(json: Buffer): number | undefined {
  const status = parseStatus(json);
  if (status?.status === 'Success') return 0;
  if (status?.reason !== NON_ZERO_EXIT) return undefined;
  const cause = status.details?.causes?.find((c) => c.reason === EXIT_CODE_CAUSE);
  const code = Number(cause?.message);
  return Number.isInteger(code) ? code : undefined;
}

/**
 * The bytes for the client's error stream. v4 and v5 take the JSON verbatim; older protocols
 * only a failure's message (their clients print it as "error executing remote command: ...").
 */
export function statusForProtocol(json: Buffer, protocolVersion: number): Buffer {
  if (protocolVersion >= 4) return json;
  const status = parseStatus(json);
  if (!status || status.status === 'Success') return Buffer.alloc(0);
  return Buffer.from(status.message ?? 'remote command failed');
}
