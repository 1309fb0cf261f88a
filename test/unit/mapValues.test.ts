/**
 * Typed arrays mapped without TypedArray.from's list (lib/tensors/mapValues.ts): given a mapping
 * function, TypedArray.from collects every mapped value into a JavaScript array first, which ran a
 * function out of JS heap on 1,000 small images for an int32 model. The helpers answer what
 * TypedArray.from answers, the int32 cast reuses the encoded bytes, and no source file maps a typed
 * array through TypedArray.from again.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mapValues, truncateInPlace } from '../../lib/tensors/mapValues.js';

const VALUES = [0, 1.9, -1.9, 2.5, -0.4, 1e9, -3e9, Number.NaN, 255.99, 65504];

describe('mapValues and truncateInPlace', () => {
  it('answer what TypedArray.from with the same function answers', () => {
    const half = (v: number) => v / 2;
    expect(mapValues(Float32Array, VALUES, half)).toEqual(Float32Array.from(VALUES, half));
    expect(mapValues(Int32Array, VALUES, Math.trunc)).toEqual(Int32Array.from(VALUES, Math.trunc));
    expect(mapValues(Uint8Array, VALUES, (v) => (v ? 1 : 0))).toEqual(Uint8Array.from(VALUES, (v) => (v ? 1 : 0)));
  });

  it('cuts float32 values toward zero as int32 in the same bytes', () => {
    const floats = Float32Array.from(VALUES);
    const expected = Int32Array.from(floats, Math.trunc);
    const ints = truncateInPlace(floats.subarray(1));
    expect(ints.buffer).toBe(floats.buffer);
    expect(ints.byteOffset).toBe(4);
    expect(ints).toEqual(expected.subarray(1));
  });
});

/** Each `XArray.from(` call's arguments, read to its closing parenthesis. */
function typedFromCalls(source: string): string[] {
  const calls: string[] = [];
  for (const match of source.matchAll(/\b(?:Float32|Float64|Int8|Int16|Int32|Uint8|Uint8Clamped|Uint16|Uint32)Array\.from\(/g)) {
    let depth = 1;
    let i = (match.index ?? 0) + match[0].length;
    const start = i;
    for (; i < source.length && depth > 0; i += 1) depth += source[i] === '(' ? 1 : source[i] === ')' ? -1 : 0;
    calls.push(source.slice(start, i - 1));
  }
  return calls;
}

/**
 * Whether an argument list has a comma outside any brackets (a second argument, the mapping
 * function) after an iterable: an array-like literal ({ length: n }) is not collected first.
 */
function mapsAnIterable(args: string): boolean {
  if (args.trimStart().startsWith('{')) return false;
  let depth = 0;
  for (const c of args) {
    if ('([{'.includes(c)) depth += 1;
    else if (')]}'.includes(c)) depth -= 1;
    else if (c === ',' && depth === 0) return true;
  }
  return false;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return entry.name.endsWith('.ts') ? [file] : [];
  });
}

describe('the source', () => {
  it('finds a mapping function given to TypedArray.from (the check can fail)', () => {
    expect(typedFromCalls('const a = Int32Array.from(data, Math.trunc); const b = Float32Array.from(f(x, y));').map(mapsAnIterable)).toEqual([true, false]);
    expect(mapsAnIterable('{ length: n }, (_, i) => i')).toBe(false);
  });

  it('maps no typed array through TypedArray.from with a mapping function', () => {
    const offenders = ['lib', 'handlers', 'cli'].flatMap((dir) =>
      sourceFiles(dir).flatMap((file) =>
        typedFromCalls(readFileSync(file, 'utf8'))
          .filter(mapsAnIterable)
          .map((args) => `${file}: from(${args})`),
      ),
    );
    expect(offenders).toEqual([]);
  });
});
