import { describe, expect, test } from 'vitest';
import { mulberry32 } from '../helpers/random.js';
import { decodeUtf8, encodeUtf8 } from '../../src/protocol/utf8.js';

/** The seeded PRNG of every fuzzing test, so failures reproduce. */
const rng = mulberry32;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Random UTF-16 strings mixing ASCII, 2- and 3-byte ranges, pairs and lone surrogates. */
function randomString(next: () => number, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) {
    const r = next();
    if (r < 0.4) s += String.fromCharCode(Math.floor(next() * 0x80));
    else if (r < 0.6) s += String.fromCharCode(0x80 + Math.floor(next() * 0x780));
    else if (r < 0.8) s += String.fromCharCode(0x800 + Math.floor(next() * 0xf7ff));
    else if (r < 0.95) s += String.fromCodePoint(0x10000 + Math.floor(next() * 0xfffff));
    else s += String.fromCharCode(0xd800 + Math.floor(next() * 0x800)); // lone surrogate
  }
  return s;
}

describe('encodeUtf8', () => {
  test('matches TextEncoder on 20,000 random strings, lone surrogates included', () => {
    const next = rng(20261126);
    for (let n = 0; n < 20_000; n++) {
      const s = randomString(next, Math.floor(next() * 80));
      expect(Array.from(encodeUtf8(s)), JSON.stringify(s)).toEqual(Array.from(encoder.encode(s)));
    }
  });

  test('grows its scratch buffer for long strings', () => {
    const long = '€'.repeat(5000);
    expect(encodeUtf8(long)).toEqual(encoder.encode(long));
  });
});

describe('decodeUtf8', () => {
  test('matches TextDecoder on the encoding of 20,000 random strings, short and long', () => {
    const next = rng(7);
    for (let n = 0; n < 20_000; n++) {
      const bytes = encoder.encode(randomString(next, Math.floor(next() * 120)));
      expect(decodeUtf8(bytes)).toBe(decoder.decode(bytes));
    }
  });

  test('keeps a leading U+FEFF', () => {
    expect(decodeUtf8(encoder.encode('\uFEFFhi'))).toBe('\uFEFFhi');
    expect(decodeUtf8(encoder.encode(`\uFEFF${'x'.repeat(100)}`))).toBe(`\uFEFF${'x'.repeat(100)}`);
  });
});
