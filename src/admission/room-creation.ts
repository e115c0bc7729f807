/**
 * How many new rooms one address may make: a token bucket per address, refilled at
 * `perMinute` a minute and holding at most `perMinute`. Addresses are the admission
 * slots of connection-limits.ts (a keyed hash of the address), so the sequencer on
 * the main thread never sees an address and keeps no string per connection.
 */
export class RoomCreationLimit {
  private readonly buckets = new Map<number, { tokens: number; at: number }>();

  constructor(private readonly perMinute: number) {}

  /** Takes one token for a room `slot` makes at `nowMs`; false when its bucket is empty. A slot below 0 (no address) is not limited. */
  allow(slot: number | undefined, nowMs: number): boolean {
    if (slot === undefined || slot < 0) return true;
    let bucket = this.buckets.get(slot);
    if (!bucket) {
      if (this.buckets.size >= PRUNE_AT) this.prune(nowMs);
      bucket = { tokens: this.perMinute, at: nowMs };
      this.buckets.set(slot, bucket);
    }
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + ((nowMs - bucket.at) * this.perMinute) / 60_000);
    bucket.at = nowMs;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Forgets the buckets that have filled up again (the same as a new one). */
  private prune(nowMs: number): void {
    for (const [slot, bucket] of this.buckets) {
      if (bucket.tokens + ((nowMs - bucket.at) * this.perMinute) / 60_000 >= this.perMinute) this.buckets.delete(slot);
    }
  }
}

/** Buckets kept before full ones are forgotten (there are 65,536 slots at most). */
const PRUNE_AT = 4096;
