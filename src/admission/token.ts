/**
 * Signed access tokens: JWT (RFC 7519) with HS256 only. When the host has a secret,
 * every join carries a token whose claims allow that room and nickname:
 *   name   the nickname (required)
 *   rooms  the room names allowed, or "*" for every room (required)
 *   exp    expiry, seconds since the epoch (optional; honoured when present)
 *   nbf    not before, seconds since the epoch (optional; honoured when present)
 *
 * Verified synchronously with node:crypto: a join is checked in the order it came,
 * before the requests after it (jose and friends verify asynchronously, which would
 * let a later request overtake the join).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Allowed clock difference between the token issuer and this host. */
const CLOCK_SKEW_SECONDS = 30;
/** Longer tokens are refused unread. */
export const MAX_TOKEN_CHARS = 4096;

export interface TokenGrant {
  readonly name: string;
  readonly rooms: '*' | readonly string[];
}

export type TokenCheck = { readonly ok: true; readonly grant: TokenGrant } | { readonly ok: false; readonly reason: string };

export class TokenVerifier {
  private readonly key: Buffer;

  constructor(secret: string) {
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
    if (claims.exp !== undefined && (typeof claims.exp !== 'number' || now > claims.exp + CLOCK_SKEW_SECONDS)) return refuse('the token has expired');
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || now < claims.nbf - CLOCK_SKEW_SECONDS)) return refuse('the token is not valid yet');
    if (typeof claims.name !== 'string' || claims.name.length === 0) return refuse('the token has no "name" claim');
    const rooms = claims.rooms;
    if (rooms === '*') return { ok: true, grant: { name: claims.name, rooms } };
    if (!Array.isArray(rooms) || !rooms.every((r): r is string => typeof r === 'string')) {
      return refuse('the token\'s "rooms" claim is neither "*" nor a list of room names');
    }
    return { ok: true, grant: { name: claims.name, rooms } };
  }

  /** Verifies and checks that the grant covers joining `room` as `nickname`. */
  allows(token: string | undefined, room: string, nickname: string, nowMs: number): TokenCheck {
    if (!token) return refuse('this host requires a token to join');
    const check = this.verify(token, nowMs);
    if (!check.ok) return check;
    if (check.grant.name !== nickname) return refuse('the token is for another nickname');
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
