/**
 * What a reader closed with 4001 really gets, with the default limits (1 MiB of backpressure,
 * 100 messages of history, 50 sent with a join). Nothing before the close is skipped: a reader
 * that reads again (before uWS gives up on the closing socket) gets every message up to the
 * close, then the 4001. What it misses is what the room says after the close, and history
 * holds only the last 100 messages: a rejoin with `since` recovers them when it comes before
 * 100 more, and otherwise is told of the gap (`recovered = false` and the most recent
 * messages, whose first seq shows how many are missing), never handed a history that
 * silently skips messages.
 */
import type { Socket } from 'node:net';
import { expect, test } from 'vitest';
import { CloseCode } from '../../src/protocol/index.js';
import { TestClient } from '../helpers/client.js';
import { startHost } from '../helpers/host.js';
import { scrape } from '../helpers/metrics.js';

const HISTORY = 100;
const JOIN_HISTORY = 50;
const BACKPRESSURE = 1 << 20;

const tcp = (client: TestClient): Socket => (client.socket as unknown as { _socket: Socket })._socket;

test('a reader closed with 4001 (default limits) got everything up to the close; its rejoin recovers what came after within --history, else it is told of the gap', {
  timeout: 120_000,
}, async () => {
  // Only the rate limits are raised (the sender floods); history and backpressure are the defaults.
  const host = await startHost(['--workers', '1', '--rate-limit', '100000', '--rate-burst', '100000', '--rate-limit-per-ip', '100000']);
  try {
    const sender = await TestClient.connect(host.ws);
    const reader = await TestClient.connect(host.ws);
    const stalled = await TestClient.connect(host.ws);
    await sender.join('slow', 'sender');
    await reader.join('slow', 'reader');
    await stalled.join('slow', 'stalled');
    // The stalled reader reads a few messages first, so that its `since` is a real position.
    for (let i = 1; i <= 3; i++) await sender.say('slow', `warm-up ${i}`);
    await stalled.next('message', (m) => m.seq === 3);
    for (const c of [sender, reader, stalled]) c.drain();
    tcp(stalled).pause();

    const text = 'x'.repeat(1500);
    let sent = 0;
    let metrics = await scrape(host.http);
    // Bounded: at most 1000 rounds of 50 messages (75 MB; loopback's kernel queues hold about 4 MB).
    for (let round = 0; round < 1000 && metrics.get('chat_backpressure_closes_total') === 0; round++) {
      for (let i = 0; i < 50; i++) sender.send({ type: 'say', requestId: 0, room: 'slow', text: `${sent++} ${text}`, to: null });
      // Pace by the healthy reader, so that only the stalled one falls behind.
      const lastText = `${sent - 1} `;
      await reader.next('message', (m) => m.text.startsWith(lastText));
      reader.drain();
      metrics = await scrape(host.http);
    }
    expect(metrics.get('chat_closes_total{code="4001"}')).toBe(1);

    tcp(stalled).resume();
    const closed = await stalled.closed;
    expect(closed.code).toBe(CloseCode.TooSlow);
    // The reason promises nothing about recovery.
    expect(closed.reason).toMatch(new RegExp(`^too slow: \\d+ bytes waiting to be sent, over the ${BACKPRESSURE}-byte limit; reconnect$`));
    // What it did read before the close: an unbroken run from the start.
    const seen = stalled.takeMessages('slow').map((m) => m.seq);
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i + 4));
    const since = seen.at(-1) ?? 3;

    // Nothing was skipped before the close; what the reader misses is what the room says after it.
    const afterClose = (await sender.say('slow', 'after the close')).seq;
    const back = await TestClient.connect(host.ws);
    const quick = await back.join('slow', 'stalled', since);
    // Rejoined before --history more messages came: exactly what it missed, nothing else.
    expect(quick.recovered).toBe(true);
    expect(quick.history.map((m) => m.seq)).toEqual(Array.from({ length: afterClose - since }, (_, i) => since + 1 + i));
    await back.leave('slow');

    // The flood that overran the reader goes on: once more than --history messages came after
    // `since`, a rejoin with it cannot be recovered, and the host says so.
    while (sent < afterClose + HISTORY) {
      for (let i = 0; i < 50; i++) sender.send({ type: 'say', requestId: 0, room: 'slow', text: `${sent++} ${text}`, to: null });
      const lastText = `${sent - 1} `;
      await reader.next('message', (m) => m.text.startsWith(lastText));
      reader.drain();
    }
    const head = (await sender.say('slow', 'much later')).seq;
    expect(head - since).toBeGreaterThan(HISTORY);
    const late = await back.join('slow', 'stalled', since);
    // The gap is reported, not papered over: not recovered, the most recent messages only.
    expect(late.recovered).toBe(false);
    expect(late.headSeq).toBe(head);
    expect(late.history.map((m) => m.seq)).toEqual(Array.from({ length: JOIN_HISTORY }, (_, i) => head - JOIN_HISTORY + 1 + i));
    // Seqs since+1 .. history[0]-1 are missing, and the client can tell how many.
    expect(late.history[0]!.seq - since - 1).toBeGreaterThan(HISTORY - JOIN_HISTORY);
    await Promise.all([sender.close(), reader.close(), back.close()]);
  } finally {
    await host.stop();
  }
});
