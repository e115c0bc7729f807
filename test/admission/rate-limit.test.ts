/** The per-connection token bucket and its abuse rule, driven by an injected clock (no sleeps, no real time). */
import { describe, expect, test } from 'vitest';
import { RateLimiter, takeToken, type RateDecision, type RateLimitSettings, type TokenBucket } from '../../src/admission/rate-limit.js';

/** Takes `count` requests at the same instant and returns the decisions. */
const takeMany = (limiter: RateLimiter, now: number, count: number): RateDecision[] => Array.from({ length: count }, () => limiter.take(now));

/**
 * Sends one request every `intervalMs` from `start` (exclusive of `end`) and returns
 * the time of the first refusal and of the first close (NaN when none).
 */
function drive(limiter: RateLimiter, start: number, end: number, intervalMs: number): { firstRefusal: number; firstClose: number; refusals: number } {
  let firstRefusal = Number.NaN;
  let firstClose = Number.NaN;
  let refusals = 0;
  for (let t = start; t < end; t += intervalMs) {
    const decision = limiter.take(t);
    if (decision !== 'allow') {
      refusals++;
      if (Number.isNaN(firstRefusal)) firstRefusal = t;
    }
    if (decision === 'close' && Number.isNaN(firstClose)) firstClose = t;
  }
  return { firstRefusal, firstClose, refusals };
}

describe('RateLimiter: the token bucket', () => {
  const settings: RateLimitSettings = { perSecond: 10, burst: 5, abuseMs: 10_000 };

  test('allows a full burst at once, then refuses', () => {
    const limiter = new RateLimiter(settings, 1000);
    expect(takeMany(limiter, 1000, 5)).toEqual(['allow', 'allow', 'allow', 'allow', 'allow']);
    expect(limiter.take(1000)).toBe('refuse');
  });

  test('refills at the configured rate (one token per 1000 / perSecond ms)', () => {
    const limiter = new RateLimiter(settings, 0);
    takeMany(limiter, 0, 5);
    expect(limiter.take(50)).toBe('refuse'); // half a token
    expect(limiter.take(100)).toBe('allow'); // one token after 100 ms
    expect(limiter.take(100)).toBe('refuse');
    // 300 ms later: three tokens, exactly.
    expect(takeMany(limiter, 400, 4)).toEqual(['allow', 'allow', 'allow', 'refuse']);
  });

  test('a fractional rate refills slowly (perSecond 0.5: one token per 2 s)', () => {
    const limiter = new RateLimiter({ perSecond: 0.5, burst: 1, abuseMs: 60_000 }, 0);
    expect(limiter.take(0)).toBe('allow');
    expect(limiter.take(1000)).toBe('refuse');
    expect(limiter.take(1500)).toBe('refuse');
    expect(limiter.take(2000)).toBe('allow');
  });

  test('never holds more than `burst` tokens, however long the connection was quiet', () => {
    const limiter = new RateLimiter(settings, 0);
    expect(takeMany(limiter, 3_600_000, 6)).toEqual(['allow', 'allow', 'allow', 'allow', 'allow', 'refuse']);
  });

  test('never holds more than `burst` tokens after partial use either', () => {
    const limiter = new RateLimiter(settings, 0);
    takeMany(limiter, 0, 2); // 3 left
    expect(takeMany(limiter, 60_000, 6)).toEqual(['allow', 'allow', 'allow', 'allow', 'allow', 'refuse']);
  });

  test('a refused request does not consume a token', () => {
    const limiter = new RateLimiter(settings, 0);
    takeMany(limiter, 0, 5);
    // 303 refusals in the first 75 ms (a quarter token earned at each of 25, 50, 75)...
    for (const t of [25, 50, 75]) expect(takeMany(limiter, t, 101)).toEqual(Array(101).fill('refuse'));
    // ...and the token earned by t = 100 is still whole.
    expect(limiter.take(100)).toBe('allow');
    expect(limiter.take(100)).toBe('refuse');
  });

  test('the construction time starts the clock (no refill for time before it)', () => {
    const limiter = new RateLimiter(settings, 10_000);
    takeMany(limiter, 10_000, 5);
    expect(limiter.take(10_050)).toBe('refuse');
    expect(limiter.take(10_100)).toBe('allow');
  });

  test('a clock that goes backwards adds no tokens', () => {
    const limiter = new RateLimiter(settings, 1000);
    takeMany(limiter, 1000, 5);
    expect(limiter.take(500)).toBe('refuse');
    expect(limiter.take(0)).toBe('refuse');
    expect(limiter.take(1050)).toBe('refuse');
    expect(limiter.take(1100)).toBe('allow');
  });

  test('a steady client at exactly the rate is never refused', () => {
    const limiter = new RateLimiter({ perSecond: 10, burst: 1, abuseMs: 1000 }, 0);
    const { refusals } = drive(limiter, 0, 120_000, 100);
    expect(refusals).toBe(0);
  });
});

describe('RateLimiter: refuse, then close after abuseMs of continuous excess', () => {
  // A bucket that does not refill within these tests: one token, then refusals only.
  const noRefill: RateLimitSettings = { perSecond: 0.0001, burst: 1, abuseMs: 3000 };

  test('refuses while the excess is shorter than abuseMs, closes once it lasts abuseMs', () => {
    const limiter = new RateLimiter(noRefill, 0);
    expect(limiter.take(0)).toBe('allow');
    expect(limiter.take(100)).toBe('refuse'); // the episode starts at 100
    for (let t = 600; t < 3100; t += 500) expect(limiter.take(t)).toBe('refuse');
    expect(limiter.take(3099)).toBe('refuse');
    expect(limiter.take(3100)).toBe('close'); // 3000 ms after the first refusal
    expect(limiter.take(3101)).toBe('close'); // and stays closed while the flood goes on
  });

  test('abuseMs 0 closes on the first refusal', () => {
    const limiter = new RateLimiter({ ...noRefill, abuseMs: 0 }, 0);
    expect(limiter.take(0)).toBe('allow');
    expect(limiter.take(0)).toBe('close');
  });

  test('refusals exactly 1000 ms apart are one episode (the gap must exceed a second)', () => {
    const limiter = new RateLimiter(noRefill, 0);
    limiter.take(0);
    expect(limiter.take(1)).toBe('refuse');
    expect(limiter.take(1001)).toBe('refuse');
    expect(limiter.take(2001)).toBe('refuse');
    expect(limiter.take(3001)).toBe('close');
  });

  test('a gap of 1001 ms without a refusal starts a new episode', () => {
    const limiter = new RateLimiter(noRefill, 0);
    limiter.take(0);
    expect(limiter.take(1)).toBe('refuse');
    expect(limiter.take(1002)).toBe('refuse'); // new episode from 1002
    expect(limiter.take(2002)).toBe('refuse');
    expect(limiter.take(3001)).toBe('refuse'); // would have closed without the reset
    expect(limiter.take(4001)).toBe('refuse');
    expect(limiter.take(4002)).toBe('close');
  });

  test('allowed requests in between do not end an episode; only a second without refusals does', () => {
    // perSecond 2: a token every 500 ms; a client sending every 125 ms gets 1 in 4 allowed.
    const limiter = new RateLimiter({ perSecond: 2, burst: 1, abuseMs: 3000 }, 0);
    const decisions: RateDecision[] = [];
    for (let t = 0; t <= 3125; t += 125) decisions.push(limiter.take(t));
    expect(decisions.filter((d) => d === 'allow')).toHaveLength(7); // 0, 500, ..., 3000
    // The first refusal is at 125, so 3125 is abuseMs later.
    expect(decisions[1]).toBe('refuse');
    expect(decisions.slice(0, -1)).not.toContain('close');
    expect(decisions.at(-1)).toBe('close');
  });

  test('after a close, a client that goes quiet for more than a second starts afresh', () => {
    const limiter = new RateLimiter(noRefill, 0);
    limiter.take(0);
    for (let t = 1; t <= 3001; t += 250) limiter.take(t);
    expect(limiter.take(3002)).toBe('close');
    expect(limiter.take(4003)).toBe('refuse');
  });

  test('a client at 2x the rate is closed abuseMs after its first refusal', () => {
    const settings: RateLimitSettings = { perSecond: 10, burst: 20, abuseMs: 10_000 };
    const limiter = new RateLimiter(settings, 0);
    const { firstRefusal, firstClose } = drive(limiter, 0, 60_000, 50); // 20 requests/s
    // The burst lasts a while (it drains at 10 tokens/s net), then the excess begins.
    expect(firstRefusal).toBeGreaterThan(1000);
    expect(firstClose - firstRefusal).toBeGreaterThanOrEqual(settings.abuseMs);
    expect(firstClose - firstRefusal).toBeLessThan(settings.abuseMs + 100);
  });

  test('a client a little over the rate (refusals under a second apart) is closed too', () => {
    const settings: RateLimitSettings = { perSecond: 10, burst: 10, abuseMs: 5000 };
    const limiter = new RateLimiter(settings, 0);
    const { firstRefusal, firstClose } = drive(limiter, 0, 60_000, 80); // 12.5 requests/s: a refusal every ~400 ms
    expect(Number.isNaN(firstRefusal)).toBe(false);
    expect(firstClose - firstRefusal).toBeGreaterThanOrEqual(settings.abuseMs);
    expect(firstClose - firstRefusal).toBeLessThan(settings.abuseMs + 1000);
  });

  test('a client barely over the rate, refused less than once a second, is refused but never closed', () => {
    // 10.5 requests/s against 10/s: one refusal every ~2 s, each its own episode.
    const limiter = new RateLimiter({ perSecond: 10, burst: 10, abuseMs: 1000 }, 0);
    const decisions: RateDecision[] = [];
    for (let i = 0; i < 6300; i++) decisions.push(limiter.take((i * 2000) / 21)); // 10 minutes
    expect(decisions).toContain('refuse');
    expect(decisions).not.toContain('close');
  });

  test('a client that pauses a bit more than a second between bursts is never closed', () => {
    const settings: RateLimitSettings = { perSecond: 10, burst: 20, abuseMs: 3000 };
    const limiter = new RateLimiter(settings, 0);
    const decisions: RateDecision[] = [];
    let t = 0;
    for (let round = 0; round < 100; round++) {
      // 60 requests, 2 ms apart (most refused), then 1001 ms of silence.
      for (let i = 0; i < 60; i++, t += 2) decisions.push(limiter.take(t));
      t += 1001 - 2;
    }
    expect(decisions.filter((d) => d === 'refuse').length).toBeGreaterThan(100 * 30);
    expect(decisions).not.toContain('close');
  });

  test('the same bursts with pauses under a second are closed', () => {
    // The counterpart of the test above: shows the gap, not the burst shape, is what saves it.
    const settings: RateLimitSettings = { perSecond: 10, burst: 20, abuseMs: 3000 };
    const limiter = new RateLimiter(settings, 0);
    let t = 0;
    let closedAt = Number.NaN;
    for (let round = 0; round < 10 && Number.isNaN(closedAt); round++) {
      for (let i = 0; i < 60; i++, t += 2) {
        if (limiter.take(t) === 'close' && Number.isNaN(closedAt)) closedAt = t;
      }
      t += 900 - 2;
    }
    expect(Number.isNaN(closedAt)).toBe(false);
  });
});

describe('a token bucket kept inline (a connection state)', () => {
  const settings: RateLimitSettings = { perSecond: 10, burst: 5, abuseMs: 3_000 };

  test('decides exactly as a RateLimiter, refusals and the close included, and notes no excess before a refusal', () => {
    const limiter = new RateLimiter(settings, 0);
    const bucket: TokenBucket = { tokens: settings.burst, refilledAt: 0, excess: null };
    const times = [0, 0, 0, 0, 0, 10, 50.5, 99.9, 100, 250, 250, 250, 1500, 1500, 1500, 1500, 1500, 1500, 1500];
    for (let t = 1600; t < 6000; t += 37.5) times.push(t);
    const fromLimiter: RateDecision[] = [];
    const fromBucket: RateDecision[] = [];
    for (const t of times) {
      fromLimiter.push(limiter.take(t));
      fromBucket.push(takeToken(bucket, settings, t));
      if (fromBucket.every((d) => d === 'allow')) expect(bucket.excess).toBeNull();
    }
    expect(fromBucket).toEqual(fromLimiter);
    expect(fromBucket).toContain('refuse');
    expect(fromBucket).toContain('close');
  });
});
