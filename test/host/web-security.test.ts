/**
 * Issue 13 item 7 against real hosts: the default origin check no longer trusts the Host
 * header (DNS rebinding), --public-origin narrows it to one origin, and every file of the
 * web client carries a Content-Security-Policy and the anti-framing, referrer and sniffing
 * headers.
 */
import { connect as tcpConnect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { describe, expect, test } from 'vitest';
import { startHost, type Host } from '../helpers/host.js';
import { scrape } from '../helpers/metrics.js';
import { SharedHost } from '../helpers/shared-host.js';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Sends one request over a bare socket with exactly these headers (a DNS-rebinding page's
 * browser sends its own Host, which no HTTP client library lets a test set freely), reads
 * the status line, headers and Content-Length bytes of body (none after a 101), and ends
 * the socket.
 */
function request(port: number, lines: string[]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    let raw = Buffer.alloc(0);
    let done = false;
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      raw = Buffer.concat([raw, chunk]);
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0 || done) return;
      const [statusLine, ...headerLines] = raw.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) headers[line.slice(0, line.indexOf(':')).trim().toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1]);
      const length = status === 101 || status === 304 || lines[0]!.startsWith('HEAD ') ? 0 : Number(headers['content-length'] ?? 0);
      if (raw.length < end + 4 + length) return;
      done = true;
      socket.destroy();
      resolve({ status, headers, body: raw.subarray(end + 4, end + 4 + length).toString() });
    });
    socket.once('close', () => {
      if (!done) reject(new Error(`the connection closed before a whole answer: ${JSON.stringify(raw.toString('latin1'))}`));
    });
  });
}

/** A WebSocket upgrade with this Host and (unless null) Origin; resolves with the HTTP status and body. */
function upgrade(port: number, host: string, origin: string | null): Promise<Answer> {
  return request(port, [
    'GET / HTTP/1.1',
    `Host: ${host}`,
    ...(origin === null ? [] : [`Origin: ${origin}`]),
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
  ]);
}

/** An address of this machine that is not loopback (the test host listens on 127.0.0.1, but the check is by Origin). */
const lanAddress = Object.values(networkInterfaces())
  .flatMap((list) => list ?? [])
  .find((a) => !a.internal && a.family === 'IPv4')?.address;

describe('the default origin policy does not trust the Host header', () => {
  const shared = new SharedHost(['--workers', '1']);

  test('a DNS-rebinding page (Origin and Host both evil.example on the host port) is refused with 403', async () => {
    const { port } = shared.host;
    const refused = await upgrade(port, `evil.example:${port}`, `http://evil.example:${port}`);
    expect(refused.status).toBe(403);
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
    expect(refused.body).toContain('this origin may not connect');
    expect((await scrape(shared.host.http)).get('chat_connections_refused_total{reason="origin"}')).toBe(1);
  });

  test('pages of this machine on the host port pass: loopback names and addresses', async () => {
    const { port } = shared.host;
    expect((await upgrade(port, `127.0.0.1:${port}`, `http://127.0.0.1:${port}`)).status).toBe(101);
    expect((await upgrade(port, `localhost:${port}`, `http://localhost:${port}`)).status).toBe(101);
    expect((await upgrade(port, `[::1]:${port}`, `http://[::1]:${port}`)).status).toBe(101);
    // The Host header plays no part: a loopback page passes whatever Host a proxy wrote.
    expect((await upgrade(port, 'anything.example', `http://127.0.0.1:${port}`)).status).toBe(101);
  });

  test.skipIf(lanAddress === undefined)("a page at one of this machine's own addresses passes", async () => {
    const { port } = shared.host;
    expect((await upgrade(port, `${lanAddress}:${port}`, `http://${lanAddress}:${port}`)).status).toBe(101);
  });

  test('another port, another scheme or another address of no interface here is refused', async () => {
    const { port } = shared.host;
    expect((await upgrade(port, `127.0.0.1:${port}`, `http://127.0.0.1:${port + 1}`)).status).toBe(403);
    expect((await upgrade(port, `127.0.0.1:${port}`, `https://127.0.0.1:${port}`)).status).toBe(403);
    expect((await upgrade(port, `203.0.113.9:${port}`, `http://203.0.113.9:${port}`)).status).toBe(403);
  });

  test('clients that send no Origin (not browsers) still connect', async () => {
    expect((await upgrade(shared.host.port, 'evil.example', null)).status).toBe(101);
  });
});

describe('--public-origin', () => {
  async function withHost(args: string[], env: Record<string, string>, body: (host: Host) => Promise<void>): Promise<void> {
    const host = await startHost(args, env);
    try {
      await body(host);
    } finally {
      await host.stop();
    }
  }

  test('only the public origin passes; loopback pages and a rebinding page are refused', async () => {
    await withHost(['--workers', '1', '--public-origin', 'https://chat.example.com'], {}, async ({ port }) => {
      expect((await upgrade(port, 'chat.example.com', 'https://chat.example.com')).status).toBe(101);
      expect((await upgrade(port, 'chat.example.com', 'https://chat.example.com:443')).status).toBe(101);
      expect((await upgrade(port, `127.0.0.1:${port}`, `http://127.0.0.1:${port}`)).status).toBe(403);
      expect((await upgrade(port, `localhost:${port}`, `http://localhost:${port}`)).status).toBe(403);
      expect((await upgrade(port, 'chat.example.com', 'http://chat.example.com')).status).toBe(403);
      expect((await upgrade(port, `evil.example:${port}`, `http://evil.example:${port}`)).status).toBe(403);
      expect((await upgrade(port, 'chat.example.com', null)).status).toBe(101);
    });
  });

  test('with --allowed-origins, the listed origins pass too (from CHAT_PUBLIC_ORIGIN here)', async () => {
    await withHost(
      ['--workers', '1', '--allowed-origins', 'https://admin.example.com'],
      { CHAT_PUBLIC_ORIGIN: 'https://chat.example.com' },
      async ({ port }) => {
        expect((await upgrade(port, 'chat.example.com', 'https://chat.example.com')).status).toBe(101);
        expect((await upgrade(port, 'chat.example.com', 'https://admin.example.com')).status).toBe(101);
        expect((await upgrade(port, `127.0.0.1:${port}`, `http://127.0.0.1:${port}`)).status).toBe(403);
      },
    );
  });
});

describe('security headers on the web client', () => {
  // The real public/ folder: the web client as built.
  const shared = new SharedHost(['--workers', '1']);

  function checkHeaders(headers: Record<string, string>, what: string): void {
    const csp = headers['content-security-policy'];
    expect(csp, `CSP on ${what}`).toBeDefined();
    const directives = new Map(
      csp!.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name!, values.join(' ')] as const;
      }),
    );
    expect(directives.get('default-src')).toBe("'self'");
    expect(directives.get('script-src')).toBe("'self'");
    expect(directives.get('connect-src')).toBe("'self'");
    expect(directives.get('frame-ancestors')).toBe("'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(headers['x-frame-options'], what).toBe('DENY');
    expect(headers['referrer-policy'], what).toBe('no-referrer');
    expect(headers['x-content-type-options'], what).toBe('nosniff');
  }

  test.each(['/', '/index.html', '/app.js', '/style.css', '/favicon.svg'])('GET %s carries CSP, X-Frame-Options, Referrer-Policy and nosniff', async (path) => {
    const res = await request(shared.host.port, [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${shared.host.port}`]);
    expect(res.status).toBe(200);
    checkHeaders(res.headers, `GET ${path}`);
  });

  test('HEAD and a 304 carry them too', async () => {
    const { port } = shared.host;
    const head = await request(port, ['HEAD / HTTP/1.1', `Host: 127.0.0.1:${port}`]);
    expect(head.status).toBe(200);
    checkHeaders(head.headers, 'HEAD /');
    const notModified = await request(port, ['GET / HTTP/1.1', `Host: 127.0.0.1:${port}`, `If-None-Match: ${head.headers.etag}`]);
    expect(notModified.status).toBe(304);
    checkHeaders(notModified.headers, '304 of /');
  });

  test('the page has no inline script, inline event handler or inline style for the CSP to block', async () => {
    const html = await (await fetch(`${shared.host.http}/`)).text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, content] of scripts) {
      expect(attributes).toMatch(/\ssrc="\/[^"]+"/);
      expect(content!.trim()).toBe('');
    }
    expect(html).not.toMatch(/<[^>]*\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/<[^>]*\sstyle\s*=/i);
    expect(html).not.toMatch(/<style\b/i);
    expect(html).not.toMatch(/javascript:/i);
  });
});
