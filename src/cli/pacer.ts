/**
 * Paces the terminal client's requests to the rate limit the host announces in
 * Welcome, so that a fast sender (a file piped into the client) is slowed down
 * instead of refused. The same token bucket as the host's
 * (src/admission/rate-limit.ts), with a margin: frames sent evenly can reach the
 * host bunched together (a busy worker reads several at once), so the client keeps
 * a part of the burst in reserve and refills a little slower than the host.
 */

/** Share of the host's rate the client uses. */
const RATE_SHARE = 0.9;
/** Share of the host's burst the client leaves unused (at least the last token is usable). */
const BURST_RESERVE = 0.25;

export class Pacer {
  private readonly perMs: number;
  private readonly burst: number;
  private tokens: number;
  private refilledAt: number;

  /** `perSecond` and `burst` as the host announces them (both at least 1); `now` in milliseconds, monotonic. */
  constructor(perSecond: number, burst: number, now: number) {
    this.perMs = (perSecond * RATE_SHARE) / 1000;
    this.burst = Math.max(1, burst - Math.floor(burst * BURST_RESERVE));
    this.tokens = this.burst;
    this.refilledAt = now;
  }

  /** Milliseconds to wait before the next request may be sent (0: now). */
  delay(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.perMs);
  }

  /** Counts a request sent at `now` (after delay() said 0). */
  take(now: number): void {
    this.refill(now);
    this.tokens -= 1;
  }

  private refill(now: number): void {
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + elapsed * this.perMs);
      this.refilledAt = now;
    }
  }
}
