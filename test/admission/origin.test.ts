/** --allowed-origins parsing and the Origin check on WebSocket upgrades. */
import { describe, expect, test } from 'vitest';
import { originAllowed, parseOriginPolicy, type OriginPolicy } from '../../src/admission/origin.js';
import { mulberry32 } from '../helpers/random.js';

const listOf = (policy: OriginPolicy): string[] => {
  if (policy.kind !== 'list') throw new Error(`expected a list policy, got ${policy.kind}`);
  return [...policy.origins].sort();
};

/** The seeded PRNG every fuzzing test uses, so cases are the same on every run. */
const prng = mulberry32;

describe('parseOriginPolicy', () => {
  test.each([[''], ['   '], [','], [' , ,, ']])('%j means same-origin', (text) => {
    expect(parseOriginPolicy(text)).toEqual({ kind: 'same-origin' });
  });

  test.each([['*'], [' * '], [',*,']])('%j alone means any origin', (text) => {
    expect(parseOriginPolicy(text)).toEqual({ kind: 'any' });
  });

  test.each([['*,https://chat.example.com'], ['https://chat.example.com, *'], ['*,*']])('%j: "*" with anything else throws', (text) => {
    expect(() => parseOriginPolicy(text)).toThrow(/"\*" allows every origin: give it alone/);
  });

  test('parses a comma-separated list, trimming spaces around entries', () => {
    const policy = parseOriginPolicy(' https://chat.example.com ,http://localhost:8080,  https://a.example:8443 ');
    expect(policy.kind).toBe('list');
    expect(listOf(policy)).toEqual(['http://localhost:8080', 'https://a.example:8443', 'https://chat.example.com']);
  });

  test('normalizes entries to lower-case origins without default ports', () => {
    const policy = parseOriginPolicy('HTTPS://Chat.Example.COM,http://b.example:80,https://c.example:443');
    expect(listOf(policy)).toEqual(['http://b.example', 'https://c.example', 'https://chat.example.com']);
  });

  test('a single entry is a list of one; duplicates collapse', () => {
    expect(listOf(parseOriginPolicy('https://chat.example.com'))).toEqual(['https://chat.example.com']);
    expect(listOf(parseOriginPolicy('https://chat.example.com,https://CHAT.example.com'))).toEqual(['https://chat.example.com']);
  });

  test.each([
    ['https://chat.example.com/', 'a trailing slash'],
    ['https://chat.example.com/chat', 'a path'],
    ['https://chat.example.com/chat/', 'a path with a trailing slash'],
    ['https://chat.example.com?room=a', 'a query'],
    ['https://chat.example.com#top', 'a fragment'],
    ['chat.example.com', 'no scheme'],
    ['not an origin', 'not a URL'],
    ['//chat.example.com', 'a scheme-relative URL'],
    ['localhost:8080', 'host:port without a scheme (parses as scheme "localhost:")'],
    ['file:///srv/chat', 'a file URL (opaque origin)'],
    ['null', 'the opaque origin "null"'],
    ['https://', 'a scheme without a host'],
  ])('%j (%s) throws a helpful message naming the entry', (item) => {
    let message = '';
    try {
      parseOriginPolicy(`https://ok.example,${item}`);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(`"${item}"`);
    expect(message).toContain('is not an origin like https://chat.example.com');
  });

  test('the message for a path or slash says what is wrong', () => {
    expect(() => parseOriginPolicy('https://chat.example.com/')).toThrow(/no path, no trailing slash/);
  });
});

describe('originAllowed', () => {
  const sameOrigin = parseOriginPolicy('');
  const any = parseOriginPolicy('*');
  const list = parseOriginPolicy('https://chat.example.com,http://localhost:5173');

  test('no Origin header (terminal clients, bots) is allowed under every policy', () => {
    for (const policy of [sameOrigin, any, list]) expect(originAllowed(policy, '', 'host.example:8080')).toBe(true);
  });

  test('same-origin: an Origin whose host:port equals the Host header is allowed', () => {
    expect(originAllowed(sameOrigin, 'http://localhost:8080', 'localhost:8080')).toBe(true);
    expect(originAllowed(sameOrigin, 'https://chat.example.com', 'chat.example.com')).toBe(true);
    expect(originAllowed(sameOrigin, 'http://127.0.0.1:9000', '127.0.0.1:9000')).toBe(true);
    expect(originAllowed(sameOrigin, 'http://[::1]:9000', '[::1]:9000')).toBe(true);
  });

  test('same-origin: another host or port is refused', () => {
    expect(originAllowed(sameOrigin, 'http://localhost:8081', 'localhost:8080')).toBe(false);
    expect(originAllowed(sameOrigin, 'http://localhost', 'localhost:8080')).toBe(false);
    expect(originAllowed(sameOrigin, 'http://localhost:8080', 'localhost')).toBe(false);
    expect(originAllowed(sameOrigin, 'https://evil.example', 'chat.example.com')).toBe(false);
    expect(originAllowed(sameOrigin, 'https://chat.example.com.evil.example', 'chat.example.com')).toBe(false);
    expect(originAllowed(sameOrigin, 'https://evilchat.example.com', 'chat.example.com')).toBe(false);
    expect(originAllowed(sameOrigin, 'http://127.0.0.1:8080', 'localhost:8080')).toBe(false);
  });

  test('same-origin: an empty Host header allows no Origin', () => {
    expect(originAllowed(sameOrigin, 'https://chat.example.com', '')).toBe(false);
  });

  test('host names compare case-insensitively (Host header and Origin alike)', () => {
    expect(originAllowed(sameOrigin, 'http://localhost:8080', 'LocalHost:8080')).toBe(true);
    expect(originAllowed(sameOrigin, 'HTTPS://CHAT.EXAMPLE.COM', 'chat.example.com')).toBe(true);
    expect(originAllowed(sameOrigin, 'https://Chat.Example.com', 'CHAT.example.COM')).toBe(true);
  });

  test('an Origin with its default port written out equals the Host without it', () => {
    expect(originAllowed(sameOrigin, 'https://chat.example.com:443', 'chat.example.com')).toBe(true);
    expect(originAllowed(sameOrigin, 'http://chat.example.com:80', 'chat.example.com')).toBe(true);
    // A non-default port is part of the host.
    expect(originAllowed(sameOrigin, 'http://chat.example.com:443', 'chat.example.com')).toBe(false);
  });

  // A regression test: the Host header was once compared as a raw string, so a Host that carries the
  // default port (e.g. nginx `proxy_set_header Host $host:$server_port`) never equalled url.host, which
  // the URL parser strips of its default port, and the host's own pages were refused.
  test('a Host header with the default port written out equals the Origin without it', () => {
    expect(originAllowed(sameOrigin, 'https://chat.example.com', 'chat.example.com:443')).toBe(true);
    expect(originAllowed(sameOrigin, 'http://chat.example.com', 'chat.example.com:80')).toBe(true);
    // Still not the other scheme's default port.
    expect(originAllowed(sameOrigin, 'http://chat.example.com', 'chat.example.com:443')).toBe(false);
  });

  test('"*" allows any Origin, even ones that do not parse', () => {
    expect(originAllowed(any, 'https://evil.example', 'chat.example.com')).toBe(true);
    expect(originAllowed(any, 'null', 'chat.example.com')).toBe(true);
    expect(originAllowed(any, 'garbage', 'chat.example.com')).toBe(true);
  });

  test('a list allows exactly the listed origins (scheme, host and port)', () => {
    expect(originAllowed(list, 'https://chat.example.com', 'api.example.com')).toBe(true);
    expect(originAllowed(list, 'https://chat.example.com:443', 'api.example.com')).toBe(true);
    expect(originAllowed(list, 'HTTPS://CHAT.example.com', 'api.example.com')).toBe(true);
    expect(originAllowed(list, 'http://localhost:5173', 'api.example.com')).toBe(true);
    expect(originAllowed(list, 'http://chat.example.com', 'api.example.com')).toBe(false); // scheme
    expect(originAllowed(list, 'https://chat.example.com:8443', 'api.example.com')).toBe(false); // port
    expect(originAllowed(list, 'http://localhost:5174', 'api.example.com')).toBe(false);
    expect(originAllowed(list, 'https://evil.example', 'api.example.com')).toBe(false);
    expect(originAllowed(list, 'https://sub.chat.example.com', 'api.example.com')).toBe(false);
  });

  test("a list also allows the host's own origin", () => {
    expect(originAllowed(list, 'https://api.example.com', 'api.example.com')).toBe(true);
  });

  test('the opaque origin "null" (sandboxed iframes, file: pages) is refused unless "*"', () => {
    expect(originAllowed(sameOrigin, 'null', 'chat.example.com')).toBe(false);
    expect(originAllowed(list, 'null', 'chat.example.com')).toBe(false);
  });

  test.each([
    ['garbage'],
    ['://'],
    ['http://'],
    ['http://[::1'],
    ['https://exa mple.com'],
    ['\u0000'],
    ['%%%'],
    ['😀'],
    ['http://' + 'a'.repeat(300) + ':99999'],
  ])('a malformed Origin %j is refused, not thrown', (origin) => {
    expect(originAllowed(sameOrigin, origin, 'chat.example.com')).toBe(false);
    expect(originAllowed(list, origin, 'chat.example.com')).toBe(false);
  });

  test('random Origin and Host strings never throw', () => {
    const random = prng(0x0516);
    const alphabet = 'abcXYZ019:/.[]@%?#- \u0000\u00e9\u{1f600}';
    const word = (): string => {
      const length = Math.floor(random() * 24);
      let s = '';
      for (let i = 0; i < length; i++) s += [...alphabet][Math.floor(random() * [...alphabet].length)];
      return s;
    };
    const prefixes = ['', 'http://', 'https://', 'ws://', 'file://', 'javascript:'];
    let allowed = 0;
    for (let i = 0; i < 3000; i++) {
      const origin = prefixes[Math.floor(random() * prefixes.length)]! + word();
      const host = word();
      for (const policy of [sameOrigin, list]) {
        const result = originAllowed(policy, origin, host);
        expect(typeof result).toBe('boolean');
        if (result) allowed++;
      }
    }
    // Random strings almost never name the host or a listed origin; this guards against "allow all".
    expect(allowed).toBeLessThan(300);
  });
});
