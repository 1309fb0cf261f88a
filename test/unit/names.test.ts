import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../lib/errors.js';
import { formatModelRef, parseModelRef, validateVersion } from '../../lib/registry/names.js';

describe('model references', () => {
  it.each([
    ['iris', { name: 'iris', version: undefined, alias: undefined }],
    ['iris:3', { name: 'iris', version: 3, alias: undefined }],
    ['iris@production', { name: 'iris', version: undefined, alias: 'production' }],
    ['my-model.v2_x@canary-1', { name: 'my-model.v2_x', version: undefined, alias: 'canary-1' }],
  ])('parses %s', (text, ref) => {
    expect(parseModelRef(text)).toEqual(ref);
    expect(formatModelRef(parseModelRef(text))).toBe(text);
  });

  it.each(['', 'iris:', 'iris:0', 'iris:-1', 'iris:1.5', 'iris@', 'iris:1@a', '../iris', 'Iris', 'iris@Prod', 'a/b:1'])('refuses %j', (text) =>
    expect(() => parseModelRef(text)).toThrow(BadRequestError),
  );

  it.each([
    ['1', 1],
    ['42', 42],
    [7, 7],
  ] as const)('accepts version %j', (input, n) => expect(validateVersion(input)).toBe(n));
  it('quotes a long name cut short in its message', () => {
    expect(() => parseModelRef('x'.repeat(100_000))).toThrow(/^invalid model name "x{79}\.\.\.: expected/);
    expect(() => validateVersion('9'.repeat(100_000))).toThrow(/^invalid version "9{79}\.\.\.: expected an integer from 1$/);
  });
  it.each(['0', 'x', '1e3', '', '1234567890'])('refuses version %j', (input) => expect(() => validateVersion(input)).toThrow(/invalid version/));
});
