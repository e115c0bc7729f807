/**
 * Join tokens over real sockets against a real host: `exp` is required and bounded by
 * --token-max-lifetime, a member is closed with 4002 when the token of a room it is in
 * expires, and a token's `name` is compared after the host's nickname normalisation.
 *
 * Short tokens expire `SHORT_S` after they are signed, which is right before their join:
 * the join has that long to reach the host (loopback), and the close is awaited as an
 * event, never slept for.
 */
import { describe, expect, test } from 'vitest';
import { TokenVerifier } from '../../src/admission/token.js';
import { CloseCode, PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { TestClient } from '../helpers/client.js';
import { startHost } from '../helpers/host.js';
import { scrape } from '../helpers/metrics.js';
import { SharedHost } from '../helpers/shared-host.js';

const secret = 'expiry-test-secret-of-at-least-32-characters';
const tokens = new TokenVerifier(secret);
/** The host's --token-max-lifetime. */
const MAX_LIFETIME_S = 60;
/** Seconds a short token lives after it is signed. */
const SHORT_S = 3;

const nowS = (): number => Date.now() / 1000;
/** A token for `name` in `rooms` that expires `seconds` from now. */
const token = (name: string, rooms: '*' | string[], seconds: number): string => tokens.sign({ name, rooms, exp: nowS() + seconds });

describe('join tokens expire', () => {
  const shared = new SharedHost(['--workers', '1', '--token-secret', secret, '--token-max-lifetime', String(MAX_LIFETIME_S)]);

  /** The Unauthorized message a join with `jwt` gets (the connection stays open). */
  async function refusal(client: TestClient, jwt: string, nickname = 'ann'): Promise<string> {
    const requestId = client.newRequestId();
    client.send({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId, room: 'vip', nickname, since: null, token: jwt });
    const error = await client.next('error', (e) => e.requestId === requestId);
    expect(error.code).toBe('Unauthorized');
    return error.message;
  }

  test('a token without exp, with an absurd or non-finite exp, or living longer than --token-max-lifetime is refused at join', async () => {
    const client = await shared.connect();
    expect(await refusal(client, tokens.sign({ name: 'ann', rooms: '*' }))).toMatch(/no "exp" claim/);
    expect(await refusal(client, tokens.sign({ name: 'ann', rooms: '*', exp: 1e308 }))).toMatch(/lives too long/);
    expect(await refusal(client, tokens.sign({ name: 'ann', rooms: '*', exp: 'tomorrow' }))).toMatch(/"exp" claim is not a time/);
    expect(await refusal(client, token('ann', '*', MAX_LIFETIME_S + 3600))).toMatch(/more than 60 s away \(--token-max-lifetime\)/);
    expect(await refusal(client, token('ann', '*', -1))).toMatch(/expired/);
    // The same connection joins with a token inside the limits.
    const joined = await client.join('vip', 'ann', null, token('ann', '*', MAX_LIFETIME_S - 5));
    expect(joined.you.name).toBe('ann');
  });

  test('a member is closed with 4002 once the token of a room it is in expires; with a fresh token it rejoins with since and recovers', async () => {
    const bob = await shared.connect();
    await bob.join('expiring', 'bob', null, token('bob', ['expiring'], MAX_LIFETIME_S - 5));
    const ann = await shared.connect();
    // A long token first, then a short one: the connection's timer moves to the earlier expiry.
    await ann.join('other', 'ann', null, token('ann', ['other'], MAX_LIFETIME_S - 5));
    const exp = nowS() + SHORT_S;
    await ann.join('expiring', 'ann', null, tokens.sign({ name: 'ann', rooms: ['expiring'], exp }));
    // Until it expires the token works as any other.
    const said = await ann.say('expiring', 'before my token expires');
    expect((await bob.next('message', (m) => m.seq === said.seq)).text).toBe('before my token expires');

    const closed = await ann.closed;
    expect(closed).toEqual({ code: CloseCode.TokenExpired, reason: 'token expired: get a fresh token, reconnect and rejoin with since' });
    expect(CloseCode.TokenExpired).toBe(4002);
    // Not before exp: the host enforces the expiry at exp exactly, by the wall clock this test shares.
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    expect((await scrape(shared.host.http)).get('chat_closes_total{code="4002"}')).toBe(1);

    // The room goes on without ann; back with a fresh token, she gets what she missed.
    const missed = await bob.say('expiring', 'while ann was away');
    const back = await shared.connect();
    const rejoined = await back.join('expiring', 'ann', said.seq, token('ann', ['expiring'], MAX_LIFETIME_S - 5));
    expect(rejoined.recovered).toBe(true);
    expect(rejoined.history.map((m) => [m.seq, m.text])).toEqual([[missed.seq, 'while ann was away']]);
  });

  test('only rooms still held count: a member that left the room of its short token stays', async () => {
    const ann = await shared.connect();
    await ann.join('brief', 'ann', null, token('ann', ['brief'], SHORT_S));
    await ann.join('long', 'ann', null, token('ann', ['long'], MAX_LIFETIME_S - 5));
    await ann.leave('brief');
    // A witness whose token expires a second after ann's short one, on the same worker: its
    // close comes after the host's timer for ann's short token has fired.
    const witness = await shared.connect();
    await witness.join('witness', 'wit', null, token('wit', ['witness'], SHORT_S + 1));
    expect((await witness.closed).code).toBe(CloseCode.TokenExpired);
    // Ann is still here and served.
    expect((await ann.say('long', 'still here')).seq).toBe(1);
    expect(ann.socket.readyState).toBe(ann.socket.OPEN);
  });

  test('a token name that differs only by trimming or Unicode normalisation allows its nickname', async () => {
    const ann = await shared.connect();
    expect((await ann.join('names', 'Ann', null, token(' Ann ', ['names'], 30))).you.name).toBe('Ann');
    const zoe = await shared.connect();
    // Decomposed in the token ("e" + combining diaeresis), precomposed in the join.
    expect((await zoe.join('names', 'Zo\u00eb', null, token('Zoe\u0308', ['names'], 30))).you.name).toBe('Zo\u00eb');
    // And the other way round, with spaces on the join's side.
    const zoe2 = await shared.connect();
    expect((await zoe2.join('names2', ' Zoe\u0308 ', null, token('Zo\u00eb', ['names2'], 30))).you.name).toBe('Zo\u00eb');
    // Case still matters: the token names one nickname.
    expect(await refusal(await shared.connect(), token('Ann', '*', 30), 'ann')).toMatch(/another nickname/);
  });
});

test('a member holding a token does not hold up shutdown', async () => {
  const host = await startHost(['--workers', '2', '--token-secret', secret]);
  const ann = await TestClient.connect(host.ws);
  await ann.join('late', 'ann', null, token('ann', ['late'], 3600));
  expect(await host.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  expect(await ann.closed).toEqual({ code: CloseCode.GoingAway, reason: 'server shutting down' });
  expect(host.logs.some((l) => l.msg === 'shut down cleanly')).toBe(true);
});
