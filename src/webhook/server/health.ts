// /healthz (liveness: restarting would help) and /readyz (readiness: send us traffic) as named
// checks; a failing endpoint answers 503 with a JSON body naming each failing check and why.
import type { ServerResponse } from 'node:http';

export interface CheckResult {
  ok: boolean;
  reason?: string;
}

export type Checks = Record<string, () => CheckResult>;

export function sendChecks(res: ServerResponse, checks: Checks): void {
  const results: Record<string, CheckResult> = {};
  const failing: string[] = [];
  for (const [name, check] of Object.entries(checks)) {
    let result: CheckResult;
    try {
      result = check();
    } catch (error) {
      result = { ok: false, reason: (error as Error).message };
    }
    results[name] = result;
    if (!result.ok) failing.push(name);
  }
  const ok = failing.length === 0;
  const body = JSON.stringify(ok ? { status: 'ok', checks: results } : { status: 'failing', failing, checks: results });
  res.writeHead(ok ? 200 : 503, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
