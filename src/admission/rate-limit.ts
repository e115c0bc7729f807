/**
 * Per-connection flood control: a token bucket over requests, plus the rule that
 * turns sustained excess into a close. Pure (the clock is passed in), so the rules
 * are tested without sockets.
 */

export interface RateLimitSettings {
  /** Requests per second a connection may make on average. */
  readonly perSecond: number;
  /** Requests a connection may make at once after being quiet. */
  readonly burst: number;
  /** Being over the limit this long without a quiet second closes the connection. */
  readonly abuseMs: number;
}

/** A refused request ends an episode of excess only after this long without another refusal. */
const EPISODE_GAP_MS = 1000;

export type RateDecision = 'allow' | 'refuse' | 'close';

/** A run of refusals: when it began, and the latest refusal. */
interface Excess {
  overSince: number;
  lastRefusal: number;
}

/**
 * A token bucket's state. RateLimiter keeps one; a connection's state keeps its fields
 * inline (transport/connection.ts), which spares an object per connection.
 */
export interface TokenBucket {
  tokens: number;
  /** When `tokens` was last brought up to date (milliseconds, monotonic). */
  refilledAt: number;
  /** Set at the first refusal (most connections never have one); the current episode of excess. */
  excess: Excess | null;
}

/** Takes one token from `bucket` for a request made at `now` (milliseconds, monotonic). */
export function takeToken(bucket: TokenBucket, settings: RateLimitSettings, now: number): RateDecision {
  const { perSecond, burst, abuseMs } = settings;
  const elapsed = now - bucket.refilledAt;
  if (elapsed > 0) {
    bucket.tokens = Math.min(burst, bucket.tokens + (elapsed * perSecond) / 1000);
    bucket.refilledAt = now;
  }
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return 'allow';
  }
  // A client that keeps sending faster than the limit is refused again and again;
  // one that slows down (a second without a refusal) starts afresh.
  bucket.excess ??= { overSince: now, lastRefusal: now };
  const excess = bucket.excess;
  if (now - excess.lastRefusal > EPISODE_GAP_MS) excess.overSince = now;
  excess.lastRefusal = now;
  return now - excess.overSince >= abuseMs ? 'close' : 'refuse';
}

export class RateLimiter implements TokenBucket {
  tokens: number;
  refilledAt: number;
  excess: Excess | null = null;

  constructor(
    private readonly settings: RateLimitSettings,
    now: number,
  ) {
    this.tokens = settings.burst;
    this.refilledAt = now;
  }

  /** Takes one token for a request made at `now` (milliseconds, monotonic). */
  take(now: number): RateDecision {
    return takeToken(this, this.settings, now);
  }
}
