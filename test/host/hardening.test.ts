/**
 * Flood and abuse control over real sockets: the per-connection rate limit, the
 * connection limits, the origin check, join tokens, TLS and the slow-reader policy.
 */
import { PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { readFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { TokenVerifier } from '../../src/admission/token.js';
import { TestClient, type ErrorEvent } from '../helpers/client.js';
import { startHost, type Host } from '../helpers/host.js';
import { scrape } from '../helpers/metrics.js';
import { SharedHost } from '../helpers/shared-host.js';

/** Resolves with the HTTP status of a refused upgrade, or 101 when it was accepted (and closes that socket). */
function upgradeStatus(url: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options);
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      socket.terminate();
    });
    socket.once('open', () => {
      resolve(101);
      socket.close();
    });
    socket.once('error', (error) => {
      if (socket.readyState !== WebSocket.CLOSED) reject(error);
    });
  });
}

async function withHost(args: string[], body: (host: Host) => Promise<void>): Promise<void> {
  const host = await startHost(args);
  try {
    await body(host);
  } finally {
    await host.stop();
  }
}

describe('rate limit', () => {
  test('requests past the burst get RateLimited (temporary) and are not delivered', async () => {
    await withHost(['--workers', '1', '--rate-limit', '5', '--rate-burst', '5'], async (host) => {
      const ann = await TestClient.connect(host.ws);
      const bob = await TestClient.connect(host.ws);
      await ann.join('flood', 'ann');
      await bob.join('flood', 'bob');
      for (let i = 1; i <= 12; i++) ann.send({ type: 'say', requestId: 100 + i, room: 'flood', text: `m${i}`, to: null });
      const replies = [];
      for (let i = 1; i <= 12; i++) replies.push(await ann.nextWhere((e) => 'requestId' in e && e.requestId === 100 + i));
      const accepted = replies.filter((r) => r.type === 'sent').length;
      const limited = replies.filter((r): r is ErrorEvent => r.type === 'error');
      // The two joins took 2 of the 5 tokens; a few may refill while the 12 arrive.
      expect(accepted).toBeGreaterThanOrEqual(3);
      expect(limited.length).toBeGreaterThanOrEqual(5);
      expect(accepted + limited.length).toBe(12);
      for (const e of limited) expect(e).toMatchObject({ code: 'RateLimited', temporary: true, room: 'flood' });

      // Bob's marker is sequenced after everything ann sent: what bob got before it is all there is.
      await bob.say('flood', 'marker');
      const seen: string[] = [];
      for (;;) {
        const m = await bob.next('message');
        if (m.text === 'marker') break;
        seen.push(m.text);
      }
      const acceptedTexts = replies.flatMap((r, i) => (r.type === 'sent' ? [`m${i + 1}`] : []));
      expect(seen).toEqual(acceptedTexts);
      const metrics = await scrape(host.http);
      expect(metrics.get('chat_rate_limited_total')).toBe(limited.length);
      expect(metrics.get('chat_errors_total{code="RateLimited"}')).toBe(limited.length);
      await Promise.all([ann.close(), bob.close()]);
    });
  });

  test('staying over the limit for --rate-abuse-seconds closes the connection with 1008', async () => {
    await withHost(['--workers', '1', '--rate-limit', '5', '--rate-burst', '5', '--rate-abuse-seconds', '1'], async (host) => {
      const abuser = await TestClient.connect(host.ws);
      const witness = await TestClient.connect(host.ws);
      await abuser.join('abuse', 'abuser');
      await witness.join('abuse', 'witness');
      let closedAt = -1;
      void abuser.closed.then(() => (closedAt = rounds));
      let rounds = 0;
      // 20 requests every 50 ms (80x the limit) for at most 5 s.
      for (; rounds < 100 && closedAt < 0; rounds++) {
        for (let i = 0; i < 20; i++) abuser.send({ type: 'say', requestId: 0, room: 'abuse', text: 'spam', to: null });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const closed = await abuser.closed;
      expect(closed.code).toBe(1008);
      expect(closed.reason).toMatch(/rate limit/);
      // The witness is untouched and still served.
      expect((await witness.say('abuse', 'still here')).seq).toBeGreaterThan(0);
      const metrics = await scrape(host.http);
      expect(metrics.get('chat_closes_total{code="1008"}')).toBe(1);
      await witness.close();
    });
  });
});

describe('connection limits', () => {
  test('over the per-address limit the upgrade gets 429, over the global limit 503; a closed connection frees its place', async () => {
    await withHost(['--workers', '1', '--max-connections-per-ip', '2', '--max-connections', '3'], async (host) => {
      const fromA = { localAddress: '127.0.0.1' };
      const a1 = await TestClient.connect(host.ws, fromA);
      const a2 = await TestClient.connect(host.ws, fromA);
      expect(await upgradeStatus(host.ws, fromA)).toBe(429);
      // Another address still gets in, up to the global limit.
      const b1 = await TestClient.connect(host.ws, { localAddress: '127.0.0.2' });
      expect(await upgradeStatus(host.ws, { localAddress: '127.0.0.3' })).toBe(503);
      // One worker: the close is counted before the closing handshake's answer reaches the client.
      await a1.close();
      const a3 = await TestClient.connect(host.ws, fromA);
      const metrics = await scrape(host.http);
      expect(metrics.get('chat_connections_refused_total{reason="per-ip-limit"}')).toBe(1);
      expect(metrics.get('chat_connections_refused_total{reason="global-limit"}')).toBe(1);
      expect(metrics.get('chat_connections')).toBe(3);
      await Promise.all([a2.close(), a3.close(), b1.close()]);
    });
  });
});

describe('origin check', () => {
  const shared = new SharedHost(['--workers', '1']);

  test('by default only pages of the host itself (and clients without Origin) may connect', async () => {
    const { port, ws } = shared.host;
    expect(await upgradeStatus(ws, { origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(ws, { origin: `http://127.0.0.1:${port}` })).toBe(101);
    expect(await upgradeStatus(ws)).toBe(101);
  });

  test('a listed origin may connect, others not; * allows any', async () => {
    await withHost(['--workers', '1', '--allowed-origins', 'https://chat.example.com, http://localhost:3000'], async (host) => {
      expect(await upgradeStatus(host.ws, { origin: 'https://chat.example.com' })).toBe(101);
      expect(await upgradeStatus(host.ws, { origin: 'http://localhost:3000' })).toBe(101);
      expect(await upgradeStatus(host.ws, { origin: 'https://chat.example.com.evil.example' })).toBe(403);
      expect((await scrape(host.http)).get('chat_connections_refused_total{reason="origin"}')).toBe(1);
    });
    await withHost(['--workers', '1', '--allowed-origins', '*'], async (host) => {
      expect(await upgradeStatus(host.ws, { origin: 'https://anywhere.example' })).toBe(101);
    });
  });
});

describe('join tokens', () => {
  const secret = 'test-secret-of-at-least-32-characters!';
  const tokens = new TokenVerifier(secret);
  const shared = new SharedHost(['--workers', '1', '--token-secret', secret]);

  test('a join needs a token allowing that room and nickname; refusals keep the connection', async () => {
    const client = await shared.connect();
    const refused = async (token: string | undefined, room = 'vip', nickname = 'ann'): Promise<string> => {
      const requestId = client.newRequestId();
      client.send({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId, room, nickname, since: null, ...(token ? { token } : {}) });
      const error = await client.next('error', (e) => e.requestId === requestId);
      expect(error.code).toBe('Unauthorized');
      return error.message;
    };
    expect(await refused(undefined)).toMatch(/requires a token/);
    const exp = Math.floor(Date.now() / 1000) + 3600;
    expect(await refused(tokens.sign({ name: 'ann', rooms: ['other'], exp }))).toMatch(/room/);
    expect(await refused(tokens.sign({ name: 'bob', rooms: '*', exp }))).toMatch(/nickname/);
    expect(await refused(tokens.sign({ name: 'ann', rooms: '*', exp: exp - 7200 }))).toMatch(/expired/);
    expect(await refused(new TokenVerifier('another-secret-of-at-least-32-chars!!').sign({ name: 'ann', rooms: '*', exp }))).toMatch(/signature/);
    expect(await refused('not a token')).toMatch(/JWT/);

    const joined = await client.join('vip', 'ann', null, tokens.sign({ name: 'ann', rooms: ['vip', 'lobby'], exp }));
    expect(joined.you.name).toBe('ann');
    expect((await client.say('vip', 'in with a token')).seq).toBe(1);
  });
});

describe('TLS', () => {
  const fixtures = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
  const ca = readFileSync(`${fixtures}cert.pem`);

  test('--cert and --key serve HTTPS and WSS from every worker', async () => {
    await withHost(['--workers', '2', '--cert', `${fixtures}cert.pem`, '--key', `${fixtures}key.pem`], async (host) => {
      const health = await new Promise<{ status: string }>((resolve, reject) => {
        httpsGet(`https://127.0.0.1:${host.port}/readyz`, { ca }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve(JSON.parse(body) as { status: string }));
        }).on('error', reject);
      });
      expect(health.status).toBe('ready');
      const url = `wss://127.0.0.1:${host.port}`;
      const ann = await TestClient.connect(url, { ca });
      const bob = await TestClient.connect(url, { ca });
      await ann.join('secure', 'ann');
      await bob.join('secure', 'bob');
      await ann.say('secure', 'over TLS');
      expect((await bob.next('message')).text).toBe('over TLS');
      // Plain WebSocket to a TLS port does not get through.
      await expect(TestClient.connect(host.ws)).rejects.toThrow();
      await Promise.all([ann.close(), bob.close()]);
    });
  });
});

describe('slow readers', () => {
  test('a member that stops reading is closed with 4001 once its send buffer passes the limit; the others get everything', async () => {
    const limit = 64 * 1024;
    await withHost(['--workers', '1', '--max-backpressure', String(limit), '--rate-limit', '100000', '--rate-burst', '100000'], async (host) => {
      const sender = await TestClient.connect(host.ws);
      const reader = await TestClient.connect(host.ws);
      const stalled = await TestClient.connect(host.ws);
      await sender.join('slow', 'sender');
      await reader.join('slow', 'reader');
      await stalled.join('slow', 'stalled');
      sender.drain();
      reader.drain();
      // Stop reading: the kernel buffers fill, then the host's send buffer grows.
      (stalled.socket as unknown as { _socket: import('node:net').Socket })._socket.pause();

      const text = 'x'.repeat(1500);
      let sent = 0;
      let readerSeq = 0;
      let metrics = await scrape(host.http);
      // Bounded: at most 400 rounds of 50 messages (30 MB; loopback's kernel queues hold about 4 MB).
      for (let round = 0; round < 400 && metrics.get('chat_backpressure_closes_total') === 0; round++) {
        for (let i = 0; i < 50; i++) sender.send({ type: 'say', requestId: 0, room: 'slow', text: `${sent++} ${text}`, to: null });
        // Pace by the healthy reader, so that only the stalled one falls behind.
        const lastText = `${sent - 1} `;
        const last = await reader.next('message', (m) => m.text.startsWith(lastText));
        for (const m of [...reader.takeMessages('slow'), last]) expect(m.seq).toBe(++readerSeq);
        metrics = await scrape(host.http);
      }
      expect(metrics.get('chat_backpressure_closes_total')).toBe(1);
      expect(metrics.get('chat_closes_total{code="4001"}')).toBe(1);

      (stalled.socket as unknown as { _socket: import('node:net').Socket })._socket.resume();
      const closed = await stalled.closed;
      expect(closed.code).toBe(4001);
      expect(closed.reason).toMatch(/^too slow/);
      // The others are still served.
      const last = await sender.say('slow', 'after');
      expect((await reader.next('message', (m) => m.seq === last.seq)).text).toBe('after');
      await Promise.all([sender.close(), reader.close()]);
    });
  });
});
