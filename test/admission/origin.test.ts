/** --allowed-origins and --public-origin parsing, and the Origin check on WebSocket upgrades. */
import { describe, expect, test } from 'vitest';
import { OriginCheck, parseOriginPolicy, parsePublicOrigin, type OriginPolicy, type OwnOrigin } from '../../src/admission/origin.js';
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

describe('parsePublicOrigin', () => {
  test('empty means none', () => {
    expect(parsePublicOrigin('')).toBe('');
    expect(parsePublicOrigin('  ')).toBe('');
  });

  test('an http(s) origin is normalised like a listed one', () => {
    expect(parsePublicOrigin('https://Chat.Example.com')).toBe('https://chat.example.com');
    expect(parsePublicOrigin('https://chat.example.com:443')).toBe('https://chat.example.com');
    expect(parsePublicOrigin(' http://10.1.2.3:8080 ')).toBe('http://10.1.2.3:8080');
  });

  test.each([
    ['https://chat.example.com/', /no path, no trailing slash/],
    ['https://chat.example.com/chat', /no path, no trailing slash/],
    ['chat.example.com', /is not an origin/],
    ['ws://chat.example.com', /not an http:\/\/ or https:\/\/ origin/],
    ['ftp://chat.example.com', /not an http:\/\/ or https:\/\/ origin/],
    ['https://a.example,https://b.example', /is not an origin/],
  ])('%j is refused', (text, message) => {
    expect(() => parsePublicOrigin(text)).toThrow(message);
  });
});

describe('OriginCheck', () => {
  /** The host listens for plain HTTP on 8080; this machine has a LAN address and IPv6 ones (one link-local, with its zone). */
  const own: OwnOrigin = { protocol: 'http:', port: 8080, machineAddresses: () => ['127.0.0.1', '::1', '192.0.2.2', 'fd00::2', 'fe80::fc:ff:fe00:1%eth0'] };
  const check = (allowedOrigins: string, publicOrigin = '', ownOrigin: OwnOrigin = own): OriginCheck =>
    new OriginCheck(parseOriginPolicy(allowedOrigins), parsePublicOrigin(publicOrigin), ownOrigin);
  const sameOrigin = check('');
  const any = check('*');
  const list = check('https://chat.example.com,http://localhost:5173');
  const publicOnly = check('', 'https://chat.example.com');
  const publicAndList = check('https://admin.example.com', 'https://chat.example.com');

  test('no Origin header (terminal clients, bots) is allowed under every policy', () => {
    for (const policy of [sameOrigin, any, list, publicOnly, publicAndList]) expect(policy.allows('')).toBe(true);
  });

  test.each([
    'http://localhost:8080',
    'http://LocalHost:8080',
    'http://127.0.0.1:8080',
    'http://127.10.20.30:8080',
    'http://0x7f.1:8080', // the URL parser makes it 127.0.0.1
    'http://[::1]:8080',
    'http://[0:0:0:0:0:0:0:1]:8080',
    'http://[::ffff:127.0.0.1]:8080',
    'http://192.0.2.2:8080',
    'http://[fd00::2]:8080',
    'http://[fe80::fc:ff:fe00:1]:8080',
  ])('default: a page of this machine, %s, passes', (origin) => {
    expect(sameOrigin.allows(origin)).toBe(true);
    // A list adds to the host's own origins.
    expect(list.allows(origin)).toBe(true);
  });

  test.each([
    ['http://evil.example:8080', 'a DNS-rebinding page (its Host header would agree)'],
    ['http://localhost.evil.example:8080', 'a name that only starts like localhost'],
    ['http://127.0.0.1.evil.example:8080', 'a name that only starts like an address'],
    ['http://localhost:8081', 'another port'],
    ['http://localhost', 'the default port'],
    ['https://localhost:8080', 'another scheme'],
    ['http://192.0.2.3:8080', 'an address of another machine'],
    ['http://10.0.0.1:8080', 'a private address of another machine'],
    ['http://0.0.0.0:8080', 'the unspecified address'],
    ['null', 'an opaque origin'],
  ])('default: %s (%s) is refused', (origin) => {
    expect(sameOrigin.allows(origin)).toBe(false);
    expect(list.allows(origin)).toBe(false);
  });

  test('default: the port and scheme are the ones the host serves, default ports included', () => {
    const tls443 = check('', '', { ...own, protocol: 'https:', port: 443 });
    expect(tls443.allows('https://localhost')).toBe(true);
    expect(tls443.allows('https://localhost:443')).toBe(true);
    expect(tls443.allows('https://127.0.0.1')).toBe(true);
    expect(tls443.allows('http://localhost:443')).toBe(false);
    expect(tls443.allows('http://localhost')).toBe(false);
    const http80 = check('', '', { ...own, port: 80 });
    expect(http80.allows('http://localhost')).toBe(true);
    expect(http80.allows('http://192.0.2.2:80')).toBe(true);
    expect(http80.allows('https://localhost')).toBe(false);
  });

  test("default: this machine's addresses are read when needed, and only for an address that is not loopback", () => {
    let reads = 0;
    const counting = check('', '', {
      ...own,
      machineAddresses: () => {
        reads++;
        return ['192.0.2.7'];
      },
    });
    expect(counting.allows('http://localhost:8080')).toBe(true);
    expect(counting.allows('http://127.0.0.1:8080')).toBe(true);
    expect(counting.allows('http://evil.example:8080')).toBe(false);
    expect(counting.allows('http://192.0.2.7:9999')).toBe(false);
    expect(reads).toBe(0);
    expect(counting.allows('http://192.0.2.7:8080')).toBe(true);
    expect(counting.allows('http://192.0.2.2:8080')).toBe(false);
    expect(reads).toBe(2);
  });

  test('with --public-origin only it passes (scheme, host and port), not the loopback names', () => {
    expect(publicOnly.allows('https://chat.example.com')).toBe(true);
    expect(publicOnly.allows('https://chat.example.com:443')).toBe(true);
    expect(publicOnly.allows('HTTPS://CHAT.example.com')).toBe(true);
    for (const origin of [
      'http://chat.example.com',
      'https://chat.example.com:8443',
      'https://sub.chat.example.com',
      'http://localhost:8080',
      'http://127.0.0.1:8080',
      'http://192.0.2.2:8080',
      'http://evil.example:8080',
    ]) {
      expect(publicOnly.allows(origin), origin).toBe(false);
    }
  });

  test('with --public-origin and --allowed-origins, both pass and nothing else', () => {
    expect(publicAndList.allows('https://chat.example.com')).toBe(true);
    expect(publicAndList.allows('https://admin.example.com')).toBe(true);
    expect(publicAndList.allows('http://localhost:8080')).toBe(false);
    expect(publicAndList.allows('https://evil.example')).toBe(false);
  });

  test('"*" allows any Origin, even ones that do not parse, --public-origin or not', () => {
    for (const policy of [any, check('*', 'https://chat.example.com')]) {
      expect(policy.allows('https://evil.example')).toBe(true);
      expect(policy.allows('null')).toBe(true);
      expect(policy.allows('garbage')).toBe(true);
    }
  });

  test('a list allows exactly the listed origins (scheme, host and port)', () => {
    expect(list.allows('https://chat.example.com')).toBe(true);
    expect(list.allows('https://chat.example.com:443')).toBe(true);
    expect(list.allows('HTTPS://CHAT.example.com')).toBe(true);
    expect(list.allows('http://localhost:5173')).toBe(true);
    expect(list.allows('http://chat.example.com')).toBe(false); // scheme
    expect(list.allows('https://chat.example.com:8443')).toBe(false); // port
    expect(list.allows('http://localhost:5174')).toBe(false);
    expect(list.allows('https://evil.example')).toBe(false);
    expect(list.allows('https://sub.chat.example.com')).toBe(false);
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
    ['http://[::1]:99999'],
  ])('a malformed Origin %j is refused, not thrown', (origin) => {
    for (const policy of [sameOrigin, list, publicOnly]) expect(policy.allows(origin)).toBe(false);
  });

  test('random Origin strings never throw', () => {
    const random = prng(0x0516);
    const alphabet = 'abcXYZ019:/.[]@%?#- \u0000\u00e9\u{1f600}';
    const word = (): string => {
      const length = Math.floor(random() * 24);
      let s = '';
      for (let i = 0; i < length; i++) s += [...alphabet][Math.floor(random() * [...alphabet].length)];
      return s;
    };
    const prefixes = ['', 'http://', 'https://', 'ws://', 'file://', 'javascript:', 'http://[', 'http://127.0.0.1:'];
    let allowed = 0;
    for (let i = 0; i < 3000; i++) {
      const origin = prefixes[Math.floor(random() * prefixes.length)]! + word();
      for (const policy of [sameOrigin, list, publicOnly]) {
        const result = policy.allows(origin);
        expect(typeof result).toBe('boolean');
        if (result) allowed++;
      }
    }
    // Random strings almost never name the host or a listed origin; this guards against "allow all".
    expect(allowed).toBeLessThan(300);
  });
});
