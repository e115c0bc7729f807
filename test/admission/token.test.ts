/** HS256 join tokens: signature, algorithm, time claims, grants, and robustness against garbage. */
import { createHmac } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { MAX_TOKEN_CHARS, TokenVerifier, type TokenCheck } from '../../src/admission/token.js';
import { mulberry32 } from '../helpers/random.js';

const SECRET = 'correct horse battery staple';
const verifier = new TokenVerifier(SECRET);
/** A fixed wall-clock time (ms); tokens' time claims are in seconds around it. */
const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;
/** An expiry an hour after NOW (every token needs one). */
const EXP = NOW_S + 3600;

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

/** A token with any header and payload text, signed with HMAC-SHA256 over `header.payload`. */
function rawToken(header: unknown, payloadText: string, secret = SECRET): string {
  const header64 = b64(typeof header === 'string' ? header : JSON.stringify(header));
  const payload64 = b64(payloadText);
  const signature = createHmac('sha256', secret).update(`${header64}.${payload64}`).digest('base64url');
  return `${header64}.${payload64}.${signature}`;
}

const refusedWith = (check: TokenCheck, reason: RegExp): void => {
  expect(check.ok).toBe(false);
  if (!check.ok) expect(check.reason).toMatch(reason);
};

/** The seeded PRNG every fuzzing test uses, so cases are the same on every run. */
const prng = mulberry32;

describe('TokenVerifier.sign / verify', () => {
  test('round trip: a signed token verifies and gives its grant', () => {
    const token = verifier.sign({ name: 'ann', rooms: ['lobby', 'dev'], exp: EXP });
    expect(verifier.verify(token, NOW_MS)).toEqual({ ok: true, grant: { name: 'ann', rooms: ['lobby', 'dev'], exp: EXP } });
  });

  test('sign makes a standard compact JWS with an HS256 header', () => {
    const token = verifier.sign({ name: 'ann', rooms: '*', exp: EXP });
    const [header64, payload64, signature64] = token.split('.');
    expect(JSON.parse(Buffer.from(header64!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(payload64!, 'base64url').toString())).toEqual({ name: 'ann', rooms: '*', exp: EXP });
    expect(signature64).toBe(createHmac('sha256', SECRET).update(`${header64}.${payload64}`).digest('base64url'));
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  });

  test('a token made elsewhere with the same secret verifies (extra header fields are fine)', () => {
    const token = rawToken({ typ: 'JWT', alg: 'HS256', kid: 'k1' }, JSON.stringify({ name: 'bob', rooms: ['a'], iat: NOW_S, exp: EXP }));
    expect(verifier.verify(token, NOW_MS)).toEqual({ ok: true, grant: { name: 'bob', rooms: ['a'], exp: EXP } });
  });

  test('non-ASCII names and rooms survive the round trip', () => {
    const token = verifier.sign({ name: 'Zoë 😀', rooms: ['café'], exp: EXP });
    expect(verifier.verify(token, NOW_MS)).toEqual({ ok: true, grant: { name: 'Zoë 😀', rooms: ['café'], exp: EXP } });
  });
});

describe('TokenVerifier: algorithm', () => {
  const claims = JSON.stringify({ name: 'ann', rooms: '*', exp: EXP });

  test('alg "none" with an empty signature is refused', () => {
    const token = `${b64(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64(claims)}.`;
    refusedWith(verifier.verify(token, NOW_MS), /not signed with HS256/);
  });

  test('alg "none" is refused even with a valid HMAC', () => {
    refusedWith(verifier.verify(rawToken({ alg: 'none' }, claims), NOW_MS), /not signed with HS256/);
  });

  test.each([
    [{ alg: 'RS256', typ: 'JWT' }],
    [{ alg: 'HS512' }],
    [{ alg: 'hs256' }],
    [{ alg: 'HS256 ' }],
    [{ alg: ['HS256'] }],
    [{ alg: null }],
    [{ typ: 'JWT' }],
    [{}],
  ])('header %j is refused (even when HMAC-signed with the secret)', (header) => {
    refusedWith(verifier.verify(rawToken(header, claims), NOW_MS), /not signed with HS256/);
  });

  test.each([['[]'], ['"HS256"'], ['null'], ['42'], ['{'], ['']])('a header that is not a JSON object (%j) is refused', (header) => {
    refusedWith(verifier.verify(rawToken(header, claims), NOW_MS), /not signed with HS256/);
  });
});

describe('TokenVerifier: signature', () => {
  const token = verifier.sign({ name: 'ann', rooms: ['lobby'], exp: EXP });
  const [header64, payload64, signature64] = token.split('.') as [string, string, string];

  test('a tampered payload (signature kept) is refused', () => {
    const forged = b64(JSON.stringify({ name: 'ann', rooms: '*' }));
    refusedWith(verifier.verify(`${header64}.${forged}.${signature64}`, NOW_MS), /signature is not valid/);
  });

  test('another header with the same payload and signature is refused', () => {
    const header = b64(JSON.stringify({ alg: 'HS256' }));
    refusedWith(verifier.verify(`${header}.${payload64}.${signature64}`, NOW_MS), /signature is not valid/);
  });

  test('a tampered signature is refused', () => {
    const first = signature64[0] === 'A' ? 'B' : 'A';
    refusedWith(verifier.verify(`${header64}.${payload64}.${first}${signature64.slice(1)}`, NOW_MS), /signature is not valid/);
    const flipped = Buffer.from(signature64, 'base64url');
    flipped[31] = flipped[31]! ^ 0x01;
    refusedWith(verifier.verify(`${header64}.${payload64}.${flipped.toString('base64url')}`, NOW_MS), /signature is not valid/);
  });

  test('a truncated, empty or over-long signature is refused', () => {
    refusedWith(verifier.verify(`${header64}.${payload64}.`, NOW_MS), /signature is not valid/);
    refusedWith(verifier.verify(`${header64}.${payload64}.${signature64.slice(0, 42)}`, NOW_MS), /signature is not valid/);
    refusedWith(verifier.verify(`${header64}.${payload64}.${signature64}AAAA`, NOW_MS), /signature is not valid/);
  });

  test('the signature of one token does not fit another', () => {
    const other = verifier.sign({ name: 'bob', rooms: ['lobby'] });
    refusedWith(verifier.verify(`${other.split('.').slice(0, 2).join('.')}.${signature64}`, NOW_MS), /signature is not valid/);
  });

  test('a token signed with another secret is refused', () => {
    const foreign = new TokenVerifier('another secret').sign({ name: 'ann', rooms: ['lobby'] });
    refusedWith(verifier.verify(foreign, NOW_MS), /signature is not valid/);
    refusedWith(verifier.verify(rawToken({ alg: 'HS256' }, '{"name":"ann","rooms":"*"}', ''), NOW_MS), /signature is not valid/);
  });

  // RFC 7515 (section 2, 7.1): the signature is base64url without padding. Node's decoder skips characters
  // outside the alphabet, accepts "=" and the standard alphabet's "+/", so many different strings decode to
  // the same 32 bytes. Not a forgery (the HMAC still has to be right), but the host accepts token strings
  // that no issuer produced; anything that ever keys on the token text (a revocation list, a cache) breaks.
  // A regression test: such variants were once accepted (src/admission/token.ts now compares the canonical encoding).
  test('only the canonical base64url encoding of the signature is accepted', () => {
    for (const variant of [`${signature64}=`, `${signature64}!`, `!${signature64}`, `${signature64.slice(0, 10)} ${signature64.slice(10)}`]) {
      expect(verifier.verify(`${header64}.${payload64}.${variant}`, NOW_MS).ok, `signature ${JSON.stringify(variant)}`).toBe(false);
    }
  });
});

describe('TokenVerifier: payload', () => {
  test.each([['null'], ['[]'], ['["name","ann"]'], ['"ann"'], ['42'], ['true']])('a signed payload that is not a JSON object (%s) is refused', (payload) => {
    refusedWith(verifier.verify(rawToken({ alg: 'HS256' }, payload), NOW_MS), /payload is not a JSON object/);
  });

  test.each([['{'], ['not json'], [''], ['{"name":"ann",}']])('a signed payload that is not JSON (%j) is refused', (payload) => {
    refusedWith(verifier.verify(rawToken({ alg: 'HS256' }, payload), NOW_MS), /payload is not a JSON object/);
  });
});

describe('TokenVerifier: exp (required, enforced exactly), the longest lifetime, nbf (30 s clock skew)', () => {
  /** Verifies a token with `claims` at `nowMs`; its exp is a minute after `nowMs` unless `claims` says otherwise. */
  const at = (claims: Record<string, unknown>, nowMs: number): TokenCheck =>
    verifier.verify(verifier.sign({ name: 'ann', rooms: '*', exp: nowMs / 1000 + 60, ...claims }), nowMs);
  const payload = (text: string): TokenCheck => verifier.verify(rawToken({ alg: 'HS256' }, text), NOW_MS);

  test('a token without exp is refused, with the reason', () => {
    refusedWith(verifier.verify(verifier.sign({ name: 'ann', rooms: '*' }), NOW_MS), /no "exp" claim/);
    refusedWith(verifier.verify(verifier.sign({ name: 'ann', rooms: '*', nbf: NOW_S, iat: NOW_S }), NOW_MS), /no "exp" claim/);
  });

  test('exp is honoured until exactly exp, with no leeway (the host closes the member at that instant)', () => {
    const exp = NOW_S;
    expect(at({ exp }, NOW_MS - 3_600_000).ok).toBe(true);
    expect(at({ exp }, NOW_MS - 1).ok).toBe(true);
    refusedWith(at({ exp }, NOW_MS), /expired/);
    refusedWith(at({ exp }, NOW_MS + 1), /expired/);
    refusedWith(at({ exp: NOW_S - 3600 }, NOW_MS), /expired/);
  });

  test('fractional exp values are compared exactly', () => {
    expect(at({ exp: NOW_S + 0.5 }, NOW_MS + 499).ok).toBe(true);
    refusedWith(at({ exp: NOW_S + 0.5 }, NOW_MS + 500), /expired/);
  });

  test.each([[String(NOW_S + 3600)], [null], [true], [[NOW_S + 3600]], [{ s: NOW_S + 3600 }]])('a non-number exp (%j) is refused', (exp) => {
    refusedWith(at({ exp }, NOW_MS), /"exp" claim is not a time/);
  });

  test('an exp that JSON reads as infinite (1e400, -1e400) is refused', () => {
    refusedWith(payload('{"name":"ann","rooms":"*","exp":1e400}'), /"exp" claim is not a time/);
    refusedWith(payload('{"name":"ann","rooms":"*","exp":-1e400}'), /"exp" claim is not a time/);
  });

  test.each([[1e308], [Number.MAX_VALUE], [Number.MAX_SAFE_INTEGER], [NOW_S + 10 * 365 * 86_400]])('an absurdly distant exp (%d) is refused', (exp) => {
    refusedWith(at({ exp }, NOW_MS), /lives too long/);
  });

  test('the longest lifetime is --token-max-lifetime (default a day) from now, plus the clock skew', () => {
    expect(at({ exp: NOW_S + 86_400 + 30 }, NOW_MS).ok).toBe(true);
    refusedWith(at({ exp: NOW_S + 86_400 + 30.001 }, NOW_MS), /lives too long: its "exp" is more than 86400 s away/);
    const short = new TokenVerifier(SECRET, 60);
    const sign = (claims: Record<string, unknown>): string => short.sign({ name: 'ann', rooms: '*', ...claims });
    expect(short.verify(sign({ exp: NOW_S + 90 }), NOW_MS).ok).toBe(true);
    refusedWith(short.verify(sign({ exp: NOW_S + 91 }), NOW_MS), /more than 60 s away/);
    // Measured from the host's clock, whatever `iat` says: an old iat does not shorten it, a future one does not lengthen it.
    expect(short.verify(sign({ exp: NOW_S + 90, iat: NOW_S - 86_400 }), NOW_MS).ok).toBe(true);
    refusedWith(short.verify(sign({ exp: NOW_S + 3600, iat: NOW_S + 3590 }), NOW_MS), /lives too long/);
    // The same token becomes acceptable once it is close enough to its end.
    expect(short.verify(sign({ exp: NOW_S + 3600 }), NOW_MS + 3_540_000).ok).toBe(true);
  });

  test('nbf is honoured from exactly 30 s before it', () => {
    const nbf = NOW_S;
    refusedWith(at({ nbf }, NOW_MS - 3_600_000), /not valid yet/);
    refusedWith(at({ nbf }, NOW_MS - 30_001), /not valid yet/);
    expect(at({ nbf }, NOW_MS - 30_000).ok).toBe(true);
    expect(at({ nbf }, NOW_MS).ok).toBe(true);
    expect(at({ nbf }, NOW_MS + 3_600_000).ok).toBe(true);
  });

  test('exp and nbf together give a window', () => {
    const claims = { nbf: NOW_S, exp: NOW_S + 60 };
    refusedWith(at(claims, NOW_MS - 31_000), /not valid yet/);
    expect(at(claims, NOW_MS + 30_000).ok).toBe(true);
    refusedWith(at(claims, NOW_MS + 60_000), /expired/);
  });

  test.each([[String(NOW_S - 3600)], [null], [false], [[0]]])('a non-number nbf (%j) is refused', (nbf) => {
    refusedWith(at({ nbf }, NOW_MS), /not valid yet/);
  });
});

describe('TokenVerifier: name and rooms claims', () => {
  const check = (claims: Record<string, unknown>): TokenCheck => verifier.verify(verifier.sign({ exp: EXP, ...claims }), NOW_MS);

  test.each([[{ rooms: '*' }], [{ name: '', rooms: '*' }], [{ name: 42, rooms: '*' }], [{ name: null, rooms: '*' }], [{ name: ['ann'], rooms: '*' }]])(
    'a missing or invalid name (%j) is refused',
    (claims) => {
      refusedWith(check(claims), /no "name" claim/);
    },
  );

  test("the name is trimmed and NFC-normalised as a join's nickname is", () => {
    expect(check({ name: ' Ann ', rooms: '*' })).toEqual({ ok: true, grant: { name: 'Ann', rooms: '*', exp: EXP } });
    expect(check({ name: 'Zoe\u0308', rooms: '*' })).toEqual({ ok: true, grant: { name: 'Zo\u00eb', rooms: '*', exp: EXP } });
  });

  test.each([['   '], ['a\u0000b'], ['x'.repeat(33)]])('a name that no nickname can be (%j) is refused as such', (name) => {
    refusedWith(check({ name, rooms: '*' }), /"name" is not a valid nickname/);
  });

  test('rooms "*" grants every room', () => {
    expect(check({ name: 'ann', rooms: '*' })).toEqual({ ok: true, grant: { name: 'ann', rooms: '*', exp: EXP } });
  });

  test('rooms as a list grants those rooms (an empty list grants none)', () => {
    expect(check({ name: 'ann', rooms: ['a', 'b'] })).toEqual({ ok: true, grant: { name: 'ann', rooms: ['a', 'b'], exp: EXP } });
    expect(check({ name: 'ann', rooms: [] })).toEqual({ ok: true, grant: { name: 'ann', rooms: [], exp: EXP } });
  });

  test.each([[undefined], [null], ['lobby'], ['**'], [''], [42], [{ lobby: true }], [[1]], [['a', null]], [['a', ['b']]], [['*', 5]]])(
    'rooms %j is refused',
    (rooms) => {
      refusedWith(check({ name: 'ann', rooms }), /"rooms" claim is neither "\*" nor a list of room names/);
    },
  );
});

describe('TokenVerifier.allows', () => {
  const listed = verifier.sign({ name: 'ann', rooms: ['lobby', 'dev'], exp: EXP });
  const everywhere = verifier.sign({ name: 'ann', rooms: '*', exp: EXP });

  test('a missing token is refused', () => {
    refusedWith(verifier.allows(undefined, 'lobby', 'ann', NOW_MS), /requires a token/);
    refusedWith(verifier.allows('', 'lobby', 'ann', NOW_MS), /requires a token/);
  });

  test('a token for another nickname is refused (case-sensitive)', () => {
    refusedWith(verifier.allows(listed, 'lobby', 'bob', NOW_MS), /another nickname/);
    refusedWith(verifier.allows(listed, 'lobby', 'Ann', NOW_MS), /another nickname/);
    refusedWith(verifier.allows(listed, 'lobby', 'ann\u200b', NOW_MS), /another nickname/);
  });

  test('name and nickname are compared after trimming and NFC normalisation, on both sides', () => {
    const sign = (name: string): string => verifier.sign({ name, rooms: '*', exp: EXP });
    expect(verifier.allows(sign(' Ann '), 'lobby', 'Ann', NOW_MS).ok).toBe(true);
    expect(verifier.allows(sign('Ann'), 'lobby', '  Ann\t', NOW_MS).ok).toBe(true);
    expect(verifier.allows(everywhere, 'lobby', 'ann ', NOW_MS).ok).toBe(true);
    // "Zoë" decomposed (e + combining diaeresis) and precomposed, either way round.
    expect(verifier.allows(sign('Zoe\u0308'), 'lobby', 'Zo\u00eb', NOW_MS).ok).toBe(true);
    expect(verifier.allows(sign('Zo\u00eb'), 'lobby', 'Zoe\u0308', NOW_MS).ok).toBe(true);
    refusedWith(verifier.allows(sign('Zoe\u0308'), 'lobby', 'Zoe', NOW_MS), /another nickname/);
    refusedWith(verifier.allows(sign(' Ann '), 'lobby', '   ', NOW_MS), /another nickname/);
  });

  test('a room outside the list is refused (exact, case-sensitive)', () => {
    refusedWith(verifier.allows(listed, 'random', 'ann', NOW_MS), /does not allow this room/);
    refusedWith(verifier.allows(listed, 'Lobby', 'ann', NOW_MS), /does not allow this room/);
    refusedWith(verifier.allows(listed, 'lobb', 'ann', NOW_MS), /does not allow this room/);
    refusedWith(verifier.allows(verifier.sign({ name: 'ann', rooms: [], exp: EXP }), 'lobby', 'ann', NOW_MS), /does not allow this room/);
  });

  test('a listed room with the right nickname is allowed', () => {
    expect(verifier.allows(listed, 'lobby', 'ann', NOW_MS)).toEqual({ ok: true, grant: { name: 'ann', rooms: ['lobby', 'dev'], exp: EXP } });
    expect(verifier.allows(listed, 'dev', 'ann', NOW_MS).ok).toBe(true);
  });

  test('"*" allows any room, including one literally named "*"', () => {
    expect(verifier.allows(everywhere, 'anything', 'ann', NOW_MS).ok).toBe(true);
    expect(verifier.allows(everywhere, '*', 'ann', NOW_MS).ok).toBe(true);
  });

  test('verification failures come through with their own reason', () => {
    refusedWith(verifier.allows(verifier.sign({ name: 'ann', rooms: '*', exp: NOW_S - 60 }), 'lobby', 'ann', NOW_MS), /expired/);
    refusedWith(verifier.allows('x.y.z', 'lobby', 'ann', NOW_MS), /HS256/);
    refusedWith(verifier.allows(new TokenVerifier('other').sign({ name: 'ann', rooms: '*', exp: EXP }), 'lobby', 'ann', NOW_MS), /signature/);
    refusedWith(verifier.allows(verifier.sign({ name: 'ann', rooms: '*' }), 'lobby', 'ann', NOW_MS), /no "exp" claim/);
  });
});

describe('TokenVerifier: length limit', () => {
  /** A valid token of exactly `length` characters (padding claim sized to fit). */
  function tokenOfLength(length: number): string {
    for (let pad = 0; pad < length; pad++) {
      const token = verifier.sign({ name: 'ann', rooms: '*', exp: EXP, pad: 'x'.repeat(pad) });
      if (token.length === length) return token;
      if (token.length > length) break;
    }
    throw new Error(`no token of exactly ${length} characters`);
  }

  test('MAX_TOKEN_CHARS is 4096', () => {
    expect(MAX_TOKEN_CHARS).toBe(4096);
  });

  test('a valid token of exactly MAX_TOKEN_CHARS is accepted', () => {
    const token = tokenOfLength(MAX_TOKEN_CHARS);
    expect(token).toHaveLength(MAX_TOKEN_CHARS);
    expect(verifier.verify(token, NOW_MS).ok).toBe(true);
  });

  test('a validly signed token one character longer is refused unread', () => {
    const token = tokenOfLength(MAX_TOKEN_CHARS + 1);
    refusedWith(verifier.verify(token, NOW_MS), /too long/);
    refusedWith(verifier.allows(token, 'lobby', 'ann', NOW_MS), /too long/);
  });

  test('a huge string is refused as too long, not parsed', () => {
    refusedWith(verifier.verify('a.'.repeat(1_000_000), NOW_MS), /too long/);
  });
});

describe('TokenVerifier: malformed input never throws', () => {
  const valid = verifier.sign({ name: 'ann', rooms: ['lobby'], exp: NOW_S + 3600 });

  test.each([
    [''],
    ['.'],
    ['..'],
    ['...'],
    ['a.b'],
    ['a.b.c.d'],
    ['a.b.c'],
    ['!!!.@@@.###'],
    ['\u0000.\u0000.\u0000'],
    ['😀.😀.😀'],
    [`${b64('{"alg":"HS256"')}.e30.sig`],
    [`${Buffer.from([0xff, 0xfe, 0x00]).toString('base64url')}.e30.sig`],
    [`${b64('['.repeat(1500) + ']'.repeat(1500))}.e30.sig`],
    [`${b64('{"alg":"HS256","__proto__":{"alg":"none"}}')}.e30.sig`],
    [valid.split('.').reverse().join('.')],
    [valid.replace(/\./g, '')],
    [`${valid}.`],
  ])('%j is refused without throwing', (token) => {
    let check: TokenCheck | undefined;
    expect(() => (check = verifier.verify(token, NOW_MS))).not.toThrow();
    expect(check?.ok).toBe(false);
    expect(typeof (check as { reason?: unknown } | undefined)?.reason).toBe('string');
  });

  test('every proper prefix of a valid token is refused', () => {
    for (let end = 0; end < valid.length; end++) {
      expect(verifier.verify(valid.slice(0, end), NOW_MS).ok, `prefix of ${end} characters`).toBe(false);
    }
  });

  test('random strings are refused without throwing', () => {
    const random = prng(0x70c3);
    const alphabet = [...'ABCxyz019-_+/=.. \u0000\u00ff\u{1f600}{}[]":,'];
    for (let i = 0; i < 5000; i++) {
      const length = Math.floor(random() * 200);
      let token = '';
      for (let j = 0; j < length; j++) token += alphabet[Math.floor(random() * alphabet.length)];
      const check = verifier.verify(token, NOW_MS);
      expect(check.ok, token).toBe(false);
    }
  });

  test('random claims (correctly signed) give exactly the expected verdict, without throwing', () => {
    const random = prng(0xbeef);
    const pools: Record<string, unknown[]> = {
      alg: ['HS256', 'none', null, 'RS256'],
      name: ['ann', ' ann ', '  ', '', 0, null, ['ann']],
      rooms: ['*', [], ['a'], ['a', 1], 'a', null],
      exp: [NOW_S + 60, NOW_S - 60, NOW_S, NOW_S + 86_430, NOW_S + 86_431, 1e308, String(NOW_S + 60), null],
      nbf: [NOW_S - 60, NOW_S + 60, String(NOW_S - 60), null],
    };
    const draw = (keys: string[]): Record<string, unknown> =>
      Object.fromEntries(keys.filter(() => random() < 0.7).map((k) => [k, pools[k]![Math.floor(random() * pools[k]!.length)]]));
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const header = random() < 0.5 ? { alg: 'HS256' } : draw(['alg']);
      const claims = draw(['name', 'rooms', 'exp', 'nbf']);
      const { name, rooms, exp, nbf } = claims;
      // An independent statement of the rules, as an oracle.
      const expected =
        header.alg === 'HS256' &&
        typeof exp === 'number' &&
        NOW_S < exp &&
        exp <= NOW_S + 86_400 + 30 &&
        (nbf === undefined || (typeof nbf === 'number' && NOW_S >= nbf - 30)) &&
        typeof name === 'string' &&
        name.trim() !== '' &&
        (rooms === '*' || (Array.isArray(rooms) && rooms.every((r) => typeof r === 'string')));
      const check = verifier.verify(rawToken(header, JSON.stringify(claims)), NOW_MS);
      expect(check.ok, JSON.stringify({ header, claims })).toBe(expected);
      if (check.ok) {
        accepted++;
        expect(check.grant).toEqual({ name: (name as string).trim(), rooms, exp });
      }
    }
    expect(accepted).toBeGreaterThan(5);
  });

  test('mutations of a valid token never throw, and never pass unless header.payload is untouched', () => {
    const random = prng(0x5eed);
    const signed = valid.slice(0, valid.lastIndexOf('.'));
    const alphabet = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \u0000\u00e9'];
    const char = (): string => alphabet[Math.floor(random() * alphabet.length)]!;
    for (let i = 0; i < 5000; i++) {
      let token = valid;
      const edits = 1 + Math.floor(random() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * (token.length + 1));
        const op = Math.floor(random() * 4);
        if (op === 0)
          token = token.slice(0, at) + char() + token.slice(at + 1); // replace
        else if (op === 1)
          token = token.slice(0, at) + token.slice(at + 1); // delete
        else if (op === 2)
          token = token.slice(0, at) + char() + token.slice(at); // insert
        else token = token.slice(0, at); // truncate
      }
      let check: TokenCheck | undefined;
      expect(() => (check = verifier.verify(token, NOW_MS)), token).not.toThrow();
      if (check?.ok) expect(token.slice(0, token.lastIndexOf('.')), token).toBe(signed);
    }
  });
});
