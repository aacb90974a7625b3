// Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource), enough to sum node
// capacities exactly: values are held as BigInt nano-units, so "500m" + "1.5" + "2Gi" never
// loses precision, and formatted back in a canonical-looking form.

const BINARY: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};
/** Decimal suffix -> power of ten. */
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const NANO = 1_000_000_000n;
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

export interface ParsedQuantity {
  /** Value in nano-units (1 = 1e-9), rounded up like the apiserver rounds sub-nano values. */
  nano: bigint;
  /** The quantity used a binary suffix (Ki, Mi, ...), so sums are printed the same way. */
  binary: boolean;
}

/** Parses a quantity string; undefined when it is not one. */
export function parseQuantity(text: string): ParsedQuantity | undefined {
  const match = QUANTITY.exec(text.trim());
  if (!match) return undefined;
  const sign = match[1] === '-' ? -1n : 1n;
  const number = match[2] ?? '0';
  const suffix = match[3] ?? '';
  const [intPart = '0', fracPart = ''] = number.split('.');
  // digits * 10^-fracLen is the number
  const digits = BigInt((intPart || '0') + fracPart);
  let exp10 = -fracPart.length;
  let multiplier = 1n;
  let binary = false;
  if (suffix in BINARY) {
    multiplier = BINARY[suffix] ?? 1n;
    binary = true;
  } else if (/^[eE]/.test(suffix)) {
    exp10 += Number(suffix.slice(1));
  } else {
    exp10 += DECIMAL[suffix] ?? 0;
  }
  // nano = digits * multiplier * 10^(exp10 + 9), rounded up when fractional.
  const nanoExp10 = exp10 + 9;
  let nano: bigint;
  if (nanoExp10 >= 0) {
    nano = digits * multiplier * 10n ** BigInt(nanoExp10);
  } else {
    const divisor = 10n ** BigInt(-nanoExp10);
    const scaled = digits * multiplier;
    nano = scaled / divisor + (scaled % divisor === 0n ? 0n : 1n);
  }
  return { nano: sign * nano, binary };
}

/** Formats nano-units: whole numbers plain (or with the largest exact binary suffix), else m/u/n. */
export function formatQuantity(nano: bigint, binary = false): string {
  if (nano < 0n) return `-${formatQuantity(-nano, binary)}`;
  if (nano % NANO === 0n) {
    const whole = nano / NANO;
    if (binary && whole > 0n) {
      for (const suffix of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const) {
        const unit = BINARY[suffix] ?? 1n;
        if (whole % unit === 0n) return `${whole / unit}${suffix}`;
      }
    }
    return whole.toString();
  }
  if (nano % 1_000_000n === 0n) return `${nano / 1_000_000n}m`;
  if (nano % 1_000n === 0n) return `${nano / 1_000n}u`;
  return `${nano}n`;
}

export type ResourceList = Record<string, string>;

/**
 * Sums resource lists key by key. Unparseable values are skipped (a malformed remote node must
 * not break the virtual node). A key is printed with binary suffixes if any input used one.
 */
export function sumResources(lists: Array<ResourceList | undefined>): ResourceList {
  const totals = new Map<string, ParsedQuantity>();
  for (const list of lists) {
    for (const [name, value] of Object.entries(list ?? {})) {
      const quantity = parseQuantity(value);
      if (!quantity) continue;
      const prev = totals.get(name);
      totals.set(name, prev ? { nano: prev.nano + quantity.nano, binary: prev.binary || quantity.binary } : quantity);
    }
  }
  const out: ResourceList = {};
  for (const name of [...totals.keys()].sort()) {
    const total = totals.get(name);
    if (total) out[name] = formatQuantity(total.nano, total.binary);
  }
  return out;
}
