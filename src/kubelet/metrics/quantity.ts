// The values PodMetrics carries: resource quantities ("250m", "1234567n", "64Mi", as
// k8s.io/apimachinery's resource.Quantity prints them) and Go durations ("15.012s", "1m0s"),
// parsed to exact integers where it matters.

const BINARY_SHIFT: Record<string, bigint> = { Ki: 10n, Mi: 20n, Gi: 30n, Ti: 40n, Pi: 50n, Ei: 60n };
const DECIMAL_EXP10: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const QUANTITY = /^(\d+)(?:\.(\d*))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;
/** Beyond 10^40 nano-units a usage value is garbage, not a measurement. */
const MAX_EXP10 = 40;

const NANO = 1_000_000_000n;

function ceilDiv(a: bigint, b: bigint): bigint {
  return a / b + (a % b === 0n ? 0n : 1n);
}

function exponent(suffix: string): number {
  return /^[eE]/.test(suffix) ? Number(suffix.slice(1)) : (DECIMAL_EXP10[suffix] ?? 0);
}

/** A non-negative quantity times 10^9 (nano-units), rounded up; undefined when it is not one. */
export function parseNanoUnits(text: string): bigint | undefined {
  const match = QUANTITY.exec(text.trim());
  if (!match) return undefined;
  const [, whole = '0', fraction = '', suffix = ''] = match;
  const shift = BINARY_SHIFT[suffix];
  const digits = BigInt(whole + fraction) << (shift ?? 0n);
  const exp10 = 9 - fraction.length + (shift === undefined ? exponent(suffix) : 0);
  if (exp10 > MAX_EXP10) return undefined;
  return exp10 >= 0 ? digits * 10n ** BigInt(exp10) : ceilDiv(digits, 10n ** BigInt(-exp10));
}

/** CPU usage in nanocores; 0 when absent or unreadable. */
export function nanoCores(quantity: string | undefined): bigint {
  return (quantity === undefined ? undefined : parseNanoUnits(quantity)) ?? 0n;
}

/** Memory in bytes, rounded up; 0 when absent or unreadable. */
export function bytes(quantity: string | undefined): bigint {
  const nano = quantity === undefined ? undefined : parseNanoUnits(quantity);
  return nano === undefined ? 0n : ceilDiv(nano, NANO);
}

const DURATION_UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ns: 1e-6,
};
const DURATION = /^(?:\d+(?:\.\d*)?(?:h|ms|m|s|us|µs|μs|ns))+$/;
const DURATION_PART = /(\d+(?:\.\d*)?)(h|ms|m|s|us|µs|μs|ns)/g;

/** A Go duration (metav1.Duration, as "15.012s" or "1m0.5s") in milliseconds; undefined if not one. */
export function parseDurationMs(text: string): number | undefined {
  if (text === '0') return 0;
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const [, value, unit] of text.matchAll(DURATION_PART)) ms += Number(value) * (DURATION_UNIT_MS[unit ?? ''] ?? 0);
  return ms;
}
