/**
 * Signed access tokens: JWT (RFC 7519) with HS256 only. When the host has a secret,
 * every join carries a token whose claims allow that room and nickname:
 *   name   the nickname (required; compared after the host's trimming and NFC normalisation)
 *   rooms  the room names allowed, or "*" for every room (required)
 *   exp    expiry, seconds since the epoch (required, at most --token-max-lifetime from now)
 *   nbf    not before, seconds since the epoch (optional; honoured when present)
 *
 * Verified synchronously with node:crypto: a join is checked in the order it came,
 * before the requests after it (jose and friends verify asynchronously, which would
 * let a later request overtake the join).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { checkNickname } from '../rooms/rules.js';

/**
 * Allowed clock difference between the token issuer and this host, for `nbf` and for the
 * longest lifetime only. `exp` gets no leeway: the host closes a member's connection at
 * `exp` (a documented close code), and a join must be refused from that same instant, or
 * a token could be accepted at join and its connection closed at once.
 */
const CLOCK_SKEW_SECONDS = 30;
/** --token-max-lifetime's default: a day. */
export const DEFAULT_TOKEN_MAX_LIFETIME_SECONDS = 86_400;
/** Longer tokens are refused unread. */
export const MAX_TOKEN_CHARS = 4096;

export interface TokenGrant {
  /** The nickname, trimmed and NFC-normalised as the host does with the nickname of a join. */
  readonly name: string;
  readonly rooms: '*' | readonly string[];
  /** When the token expires: seconds since the epoch (the `exp` claim). */
  readonly exp: number;
}

export type TokenCheck = { readonly ok: true; readonly grant: TokenGrant } | { readonly ok: false; readonly reason: string };

export class TokenVerifier {
  private readonly key: Buffer;

  /** `maxLifetimeSeconds`: a token whose `exp` is further from now than this (plus the clock skew) is refused. */
  constructor(
    secret: string,
    private readonly maxLifetimeSeconds = DEFAULT_TOKEN_MAX_LIFETIME_SECONDS,
  ) {
    this.key = Buffer.from(secret, 'utf8');
  }

  /** Checks the signature and the time claims; `nowMs` is wall-clock time. */
  verify(token: string, nowMs: number): TokenCheck {
    if (token.length > MAX_TOKEN_CHARS) return refuse('the token is too long');
    const parts = token.split('.');
    if (parts.length !== 3) return refuse('the token is not a JWT (header.payload.signature)');
    const [header64, payload64, signature64] = parts as [string, string, string];
    const header = parseJson(header64);
    if (header?.alg !== 'HS256') return refuse('the token is not signed with HS256');
    const expected = createHmac('sha256', this.key).update(`${header64}.${payload64}`).digest();
    const given = Buffer.from(signature64, 'base64url');
    // Buffer's base64url decoding skips stray characters: only the canonical spelling of a signature counts.
    if (given.toString('base64url') !== signature64 || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return refuse('the token signature is not valid');
    }
    const claims = parseJson(payload64);
    if (!claims) return refuse('the token payload is not a JSON object');
    const now = nowMs / 1000;
    const exp = claims.exp;
    if (exp === undefined) return refuse('the token has no "exp" claim: this host requires tokens that expire');
    // JSON.parse reads 1e400 as Infinity: only a finite number is a time.
    if (typeof exp !== 'number' || !Number.isFinite(exp)) return refuse('the token\'s "exp" claim is not a time in seconds since the epoch');
    if (now >= exp) return refuse('the token has expired');
    // Measured from the host's clock, not from `iat`: an issuer's claim of when it signed is no bound.
    if (exp - now > this.maxLifetimeSeconds + CLOCK_SKEW_SECONDS) {
      return refuse(`the token lives too long: its "exp" is more than ${this.maxLifetimeSeconds} s away (--token-max-lifetime)`);
    }
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || now < claims.nbf - CLOCK_SKEW_SECONDS)) return refuse('the token is not valid yet');
    if (typeof claims.name !== 'string' || claims.name.length === 0) return refuse('the token has no "name" claim');
    // The same normalisation as a join's nickname, so that " Ann " or a decomposed "Zoë" allows what it says.
    const name = checkNickname(claims.name);
    if (!name.ok) return refuse(`the token's "name" is not a valid nickname: ${name.message}`);
    const rooms = claims.rooms;
    if (rooms === '*') return { ok: true, grant: { name: name.value, rooms, exp } };
    if (!Array.isArray(rooms) || !rooms.every((r): r is string => typeof r === 'string')) {
      return refuse('the token\'s "rooms" claim is neither "*" nor a list of room names');
    }
    return { ok: true, grant: { name: name.value, rooms, exp } };
  }

  /** Verifies and checks that the grant covers joining `room` as `nickname`. */
  allows(token: string | undefined, room: string, nickname: string, nowMs: number): TokenCheck {
    if (!token) return refuse('this host requires a token to join');
    const check = this.verify(token, nowMs);
    if (!check.ok) return check;
    const wanted = checkNickname(nickname);
    // Exact (case included) after normalisation: the token names the one nickname it allows.
    if (!wanted.ok || wanted.value !== check.grant.name) return refuse('the token is for another nickname');
    if (check.grant.rooms !== '*' && !check.grant.rooms.includes(room)) return refuse('the token does not allow this room');
    return check;
  }

  /** Makes a token (for tests, tools and operators issuing tokens by hand). */
  sign(claims: Record<string, unknown>): string {
    const header64 = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const payload64 = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const signature = createHmac('sha256', this.key).update(`${header64}.${payload64}`).digest('base64url');
    return `${header64}.${payload64}.${signature}`;
  }
}

function refuse(reason: string): TokenCheck {
  return { ok: false, reason };
}

function parseJson(part: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch (error) {
    if (error instanceof SyntaxError) return null;
    throw error;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}
