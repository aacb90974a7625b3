// The position reported for malformed JSON: the scanner must agree with JSON.parse on what is
// JSON, and point at the byte where the text stops being JSON, at any nesting depth.
import { expect } from 'chai';
import fc from 'fast-check';
import { describeJsonSyntaxError, findJsonSyntaxError } from '../../../src/webhook/server/json-syntax.ts';

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('JSON syntax errors', function () {
  it('accepts exactly what JSON.parse accepts', function () {
    // Valid JSON of every shape, and near-JSON: the same text with one character changed or cut.
    const nearJson = fc
      .tuple(
        fc.json(),
        fc.nat(),
        fc.constantFrom('', ',', ']', '}', '"', ':', '-', '0', 'x', '\\', '\u0001', ' ', 'e', '.', 'nul'),
        fc.boolean(),
      )
      .map(([text, at, insert, cut]) => {
        const index = text.length === 0 ? 0 : at % text.length;
        return cut ? text.slice(0, index) : text.slice(0, index) + insert + text.slice(index + 1);
      });
    fc.assert(
      fc.property(fc.oneof(fc.json(), nearJson, fc.string()), (text) => {
        expect(findJsonSyntaxError(bytes(text)) === undefined, text).to.equal(parses(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('points at the offending byte, counting bytes not characters', function () {
    expect(findJsonSyntaxError(bytes('{"a":x}'))).to.deep.equal({ kind: 'unexpected', offset: 5 });
    expect(findJsonSyntaxError(bytes('{"ä":x}'))).to.deep.equal({ kind: 'unexpected', offset: 6 });
    expect(findJsonSyntaxError(bytes('[1,]'))).to.deep.equal({ kind: 'unexpected', offset: 3 });
    expect(findJsonSyntaxError(bytes('01'))).to.deep.equal({ kind: 'unexpected', offset: 1 });
    expect(findJsonSyntaxError(bytes('"\\x"'))).to.deep.equal({ kind: 'unexpected', offset: 2 });
    expect(findJsonSyntaxError(bytes('"\\u12g4"'))).to.deep.equal({ kind: 'unexpected', offset: 5 });
    expect(findJsonSyntaxError(bytes('tru'))).to.deep.equal({ kind: 'truncated', length: 3 });
    expect(findJsonSyntaxError(bytes('{"a":1'))).to.deep.equal({ kind: 'truncated', length: 6 });
    expect(findJsonSyntaxError(bytes('\ufeff{}'))).to.deep.equal({ kind: 'unexpected', offset: 0 });
  });

  it('handles any nesting depth without recursion', function () {
    const depth = 200_000;
    expect(findJsonSyntaxError(bytes(`${'['.repeat(depth)}${']'.repeat(depth)}`))).to.equal(undefined);
    expect(findJsonSyntaxError(bytes(`${'{"a":'.repeat(depth)}x`))).to.deep.equal({
      kind: 'unexpected',
      offset: depth * 5,
    });
  });

  it('describes the error without quoting the text', function () {
    expect(describeJsonSyntaxError(bytes('{"password":hunter2}'))).to.equal(
      'request body is not valid JSON (at byte 13)',
    );
    expect(describeJsonSyntaxError(bytes('{"password":"hunter2'))).to.equal(
      'request body is not valid JSON (it ends after 20 bytes, inside a value)',
    );
    expect(describeJsonSyntaxError(bytes(''))).to.equal('request body is not valid JSON (it is empty)');
  });
});
