// Kubernetes label selector strings (`region=eu,tier in (gold,silver),!legacy`), parsed the way
// k8s.io/apimachinery/pkg/labels does, into node selector requirements for node affinity.
// The syncer reuses compileSelector()/matchesSelector() to pick remotes by a namespace's
// kube-offload.io/clusters selector, so both sides agree on what a selector means.

import { MAX_CLUSTER_SELECTOR_LENGTH, MAX_CLUSTER_SELECTOR_REQUIREMENTS } from './keys.ts';
import type { NodeSelectorOperator, NodeSelectorRequirement } from './k8s.ts';
import { validateLabelKey, validateLabelValue } from './names.ts';
import { quote } from './text.ts';

/** A parse or validation failure: `reason` says what is wrong, `position` is a 0-based offset. */
export class SelectorParseError extends Error {
  readonly reason: string;
  readonly position: number;
  constructor(reason: string, position: number) {
    // Columns are 1-based for humans; `position` stays 0-based for code.
    super(`${reason} (column ${position + 1})`);
    this.name = 'SelectorParseError';
    this.reason = reason;
    this.position = position;
  }
}

type TokenType = 'ident' | 'in' | 'notin' | '(' | ')' | ',' | '!' | '=' | '==' | '!=' | '>' | '<' | 'end';

interface Token {
  type: TokenType;
  text: string;
  position: number;
}

// Same character classes as the apimachinery lexer.
const WHITESPACE = new Set([' ', '\t', '\r', '\n']);
const SPECIAL = new Set(['=', '!', '(', ')', ',', '>', '<']);

function lex(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i] as string;
    if (WHITESPACE.has(ch)) {
      i++;
    } else if (SPECIAL.has(ch)) {
      const two = input.slice(i, i + 2);
      const text = two === '==' || two === '!=' ? two : ch;
      tokens.push({ type: text as TokenType, text, position: i });
      i += text.length;
    } else {
      const start = i;
      while (i < input.length && !WHITESPACE.has(input[i] as string) && !SPECIAL.has(input[i] as string)) i++;
      const text = input.slice(start, i);
      const type: TokenType = text === 'in' ? 'in' : text === 'notin' ? 'notin' : 'ident';
      tokens.push({ type, text, position: start });
    }
  }
  tokens.push({ type: 'end', text: '', position: input.length });
  return tokens;
}

function describe(token: Token): string {
  return token.type === 'end' ? 'end of string' : quote(token.text, 40);
}

const BINARY: Partial<Record<TokenType, NodeSelectorOperator>> = {
  in: 'In',
  notin: 'NotIn',
  '=': 'In',
  '==': 'In',
  '!=': 'NotIn',
  '>': 'Gt',
  '<': 'Lt',
};

class Parser {
  private readonly tokens: Token[];
  private index = 0;
  constructor(input: string) {
    this.tokens = lex(input);
  }

  /** In value and key positions `in`/`notin` are plain identifiers, as in apimachinery. */
  private peek(): Token {
    const token = this.tokens[this.index] as Token;
    return token.type === 'in' || token.type === 'notin' ? { ...token, type: 'ident' } : token;
  }
  private next(): Token {
    const token = this.peek();
    if (token.type !== 'end') this.index++;
    return token;
  }
  private nextRaw(): Token {
    const token = this.tokens[this.index] as Token;
    if (token.type !== 'end') this.index++;
    return token;
  }
  private fail(token: Token, expected: string): never {
    throw new SelectorParseError(`found ${describe(token)}, expected ${expected}`, token.position);
  }

  parse(): NodeSelectorRequirement[] {
    const requirements: NodeSelectorRequirement[] = [];
    let first = true;
    for (;;) {
      const token = this.peek();
      if (token.type === 'end' && first) return requirements;
      if (token.type !== 'ident' && token.type !== '!') {
        this.fail(token, first ? '"!", a key or end of string' : '"!" or a key after ","');
      }
      requirements.push(this.requirement());
      first = false;
      const after = this.next();
      if (after.type === 'end') return requirements;
      if (after.type !== ',') this.fail(after, '"," or end of string');
    }
  }

  private requirement(): NodeSelectorRequirement {
    let negated = false;
    let keyToken = this.next();
    if (keyToken.type === '!') {
      negated = true;
      keyToken = this.next();
    }
    if (keyToken.type !== 'ident') this.fail(keyToken, 'a key');
    const keyError = validateLabelKey(keyToken.text);
    if (keyError)
      throw new SelectorParseError(`invalid key ${quote(keyToken.text, 40)}: ${keyError}`, keyToken.position);
    const key = keyToken.text;
    const lookahead = this.peek();
    if (negated || lookahead.type === 'end' || lookahead.type === ',') {
      // `!key` must stand alone: "!a=b" is an error in Kubernetes too.
      if (negated && lookahead.type !== 'end' && lookahead.type !== ',')
        this.fail(lookahead, '"," or end of string after "!key"');
      return { key, operator: negated ? 'DoesNotExist' : 'Exists' };
    }
    const opToken = this.nextRaw();
    const operator = BINARY[opToken.type];
    if (!operator) this.fail(opToken, 'one of in, notin, =, ==, !=, >, <');
    const set = opToken.type === 'in' || opToken.type === 'notin';
    const values = set ? this.valueList() : [this.exactValue()];
    for (const value of values) {
      const valueError = validateLabelValue(value.text);
      if (valueError)
        throw new SelectorParseError(
          `invalid value ${quote(value.text, 40)} for ${quote(key, 40)}: ${valueError}`,
          value.position,
        );
      if ((operator === 'Gt' || operator === 'Lt') && !isInt64(value.text)) {
        throw new SelectorParseError(
          `value ${quote(value.text, 40)} for ${quote(key, 40)} must be an integer for > and <`,
          value.position,
        );
      }
    }
    // Values are a set, sorted like apimachinery's sets.String.List().
    const unique = [...new Set(values.map((v) => v.text))].sort();
    return { key, operator, values: unique };
  }

  /** `(a, b)`; empty entries (`()`, `(a,)`) are the empty value, as in apimachinery. */
  private valueList(): Token[] {
    const open = this.next();
    if (open.type !== '(') this.fail(open, '"("');
    const values: Token[] = [];
    let expectValue = true;
    for (;;) {
      const token = this.next();
      if (token.type === 'ident' && expectValue) {
        values.push(token);
        expectValue = false;
      } else if (token.type === ',') {
        if (expectValue) values.push({ type: 'ident', text: '', position: token.position });
        expectValue = true;
      } else if (token.type === ')') {
        if (expectValue) values.push({ type: 'ident', text: '', position: token.position });
        return values;
      } else {
        this.fail(token, expectValue ? 'a value, "," or ")"' : '"," or ")"');
      }
    }
  }

  /** After `=`, `==`, `!=`, `>`, `<`: one value; nothing before "," or the end means "". */
  private exactValue(): Token {
    const token = this.peek();
    if (token.type === 'end' || token.type === ',') return { type: 'ident', text: '', position: token.position };
    const value = this.next();
    if (value.type !== 'ident') this.fail(value, 'a value');
    return value;
  }
}

const INT64_MAX = 9223372036854775807n;
function isInt64(text: string): boolean {
  return /^[0-9]+$/.test(text) && BigInt(text) <= INT64_MAX;
}

/**
 * Parses a label selector into node selector requirements (ANDed). `=`/`==` become In, `!=`
 * becomes NotIn (which, as in label selectors, also matches objects without the label), `key`
 * Exists, `!key` DoesNotExist, `>`/`<` Gt/Lt. An empty or blank selector has no requirements
 * (matches everything). Throws SelectorParseError.
 */
export function parseSelector(selector: string): NodeSelectorRequirement[] {
  return new Parser(selector).parse();
}

export type SelectorResult =
  { ok: true; requirements: NodeSelectorRequirement[] } | { ok: false; error: SelectorParseError };

/** parseSelector without exceptions, for callers that report rather than fail. */
export function tryParseSelector(selector: string): SelectorResult {
  try {
    return { ok: true, requirements: parseSelector(selector) };
  } catch (error) {
    if (error instanceof SelectorParseError) return { ok: false, error };
    throw error;
  }
}

/** A valid selector over a size limit: `size` characters or requirements, more than `limit`. */
export class SelectorLimitError extends Error {
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number, unit: 'characters' | 'requirements') {
    super(`${size} ${unit}, more than the limit of ${limit}`);
    this.name = 'SelectorLimitError';
    this.size = size;
    this.limit = limit;
  }
}

export type ClusterSelectorResult = SelectorResult | { ok: false; error: SelectorLimitError };

/**
 * Parses a kube-offload.io/clusters selector within MAX_CLUSTER_SELECTOR_LENGTH characters (checked
 * before parsing) and MAX_CLUSTER_SELECTOR_REQUIREMENTS requirements, for the webhooks to agree on what
 * they accept.
 */
export function parseClusterSelector(selector: string): ClusterSelectorResult {
  if (selector.length > MAX_CLUSTER_SELECTOR_LENGTH)
    return { ok: false, error: new SelectorLimitError(selector.length, MAX_CLUSTER_SELECTOR_LENGTH, 'characters') };
  const parsed = tryParseSelector(selector);
  if (parsed.ok && parsed.requirements.length > MAX_CLUSTER_SELECTOR_REQUIREMENTS) {
    return {
      ok: false,
      error: new SelectorLimitError(parsed.requirements.length, MAX_CLUSTER_SELECTOR_REQUIREMENTS, 'requirements'),
    };
  }
  return parsed;
}

function matchesRequirement(labels: Record<string, string>, requirement: NodeSelectorRequirement): boolean {
  const has = Object.hasOwn(labels, requirement.key);
  const value = has ? labels[requirement.key] : undefined;
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      // Kubernetes: the label must parse as an integer, else no match.
      const bound = values[0];
      if (value === undefined || bound === undefined || !/^-?[0-9]+$/.test(value) || !/^-?[0-9]+$/.test(bound))
        return false;
      return requirement.operator === 'Gt' ? BigInt(value) > BigInt(bound) : BigInt(value) < BigInt(bound);
    }
    default:
      return false;
  }
}

/** True when the labels satisfy every requirement (label-selector / node-affinity semantics). */
export function matchesSelector(
  labels: Record<string, string> | undefined,
  requirements: readonly NodeSelectorRequirement[],
): boolean {
  const actual = labels ?? {};
  return requirements.every((r) => matchesRequirement(actual, r));
}

/** Parses once and returns a predicate over label maps; throws SelectorParseError. */
export function compileSelector(selector: string): (labels: Record<string, string> | undefined) => boolean {
  const requirements = parseSelector(selector);
  return (labels) => matchesSelector(labels, requirements);
}
