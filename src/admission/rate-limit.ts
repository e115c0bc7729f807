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

export class RateLimiter {
  private tokens: number;
  private refilledAt: number;
  /** When the current run of refusals began (NaN: not over the limit). */
  private overSince = Number.NaN;
  private lastRefusal = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly settings: RateLimitSettings,
    now: number,
  ) {
    this.tokens = settings.burst;
    this.refilledAt = now;
  }

  /** Takes one token for a request made at `now` (milliseconds, monotonic). */
  take(now: number): RateDecision {
    const { perSecond, burst, abuseMs } = this.settings;
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(burst, this.tokens + (elapsed * perSecond) / 1000);
      this.refilledAt = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 'allow';
    }
    // A client that keeps sending faster than the limit is refused again and again;
    // one that slows down (a second without a refusal) starts afresh.
    if (now - this.lastRefusal > EPISODE_GAP_MS) this.overSince = now;
    this.lastRefusal = now;
    return now - this.overSince >= abuseMs ? 'close' : 'refuse';
  }
}
