/**
 * Seeded randomness for the tests, the fuzz generator (test/helpers/fuzz/) and
 * `npm run fuzz`: the same seed gives the same values everywhere.
 */

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded random values (mulberry32), for the fuzzer and every seeded test. */
export class Rng {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }

  /** Derives an independent, reproducible seed for a named sub-stream (FNV-1a over the label). */
  static derive(base: number, label: string): number {
    let h = base >>> 0;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    return h;
  }

  float(): number {
    return this.next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  bool(p = 0.5): boolean {
    return this.float() < p;
  }

  u32(): number {
    return (this.float() * 4294967296) >>> 0;
  }

  /** A safe non-negative integer, spread over all magnitudes up to 2^53 - 1. */
  safeInt(): number {
    const bits = this.int(54);
    if (bits === 0) return 0;
    if (bits <= 32) return this.int(2 ** bits);
    return this.int(2 ** (bits - 32)) * 4294967296 + this.u32();
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  /** A string mixing ASCII, Latin, CJK, combining marks, emoji, U+FEFF and any other scalar value. */
  text(maxCodePoints: number): string {
    const n = this.int(maxCodePoints + 1);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCodePoint(this.codePoint());
    return s;
  }

  private codePoint(): number {
    switch (this.int(8)) {
      case 0:
      case 1:
        return this.range(0x20, 0x7e);
      case 2:
        return this.range(0xa0, 0x24f);
      case 3:
        return this.range(0x4e00, 0x9fff);
      case 4:
        return this.range(0x300, 0x36f);
      case 5:
        return this.range(0x1f300, 0x1faff);
      case 6:
        return this.pick([0, 0xfeff, 0xfffd, 0x7f, 0x80, 0x7ff, 0x800, 0xffff, 0x10000, 0x10ffff]);
      default:
        for (;;) {
          const cp = this.int(0x110000);
          if (cp < 0xd800 || cp > 0xdfff) return cp;
        }
    }
  }
}

/** A well-mixed 32-bit seed for sub-stream `index` of `seed` (murmur3's finalizer). */
export function streamSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
