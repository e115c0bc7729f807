/** GET /metrics over every thread, and what /readyz and /healthz say while the host drains. */
import { PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { Agent, get } from 'node:http';
import { expect, test } from 'vitest';
import { connectAcrossWorkers, TestClient } from '../helpers/client.js';
import { startHost } from '../helpers/host.js';
import { parseSeriesValues } from '../helpers/prometheus.js';
import { scrape } from '../helpers/metrics.js';

test('/metrics counts the traffic of both workers, every name starts with chat_, and no client-chosen value appears', async () => {
  const host = await startHost(['--workers', '2']);
  try {
    const [[ann], [bob]] = (await connectAcrossWorkers(host.ws, 2)) as [[TestClient], [TestClient]];
    const room = 'zebra-secret-room';
    await ann.join(room, 'ann-secret-name');
    await ann.heardJoins(room, [ann.id]); // a presence tick of its own
    await bob.join(room, 'bob');
    await ann.heardJoins(room, [bob.id]);
    await bob.heardJoins(room, [bob.id]);
    await ann.say(room, 'hello');
    await bob.next('message');
    // One error from the worker's own checks, one from the hub's.
    expect((await bob.expectError({ type: 'say', requestId: 77, room: 'elsewhere', text: 'x', to: null })).code).toBe('NotJoined');
    const clash = await ann.expectError({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 78, room, nickname: 'ann-secret-name', since: null });
    expect(clash.code).toBe('AlreadyJoined');

    const res = await fetch(`${host.http}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const metrics = parseSeriesValues(text);
    expect(text).not.toContain(room);
    expect(text).not.toContain('secret-name');
    for (const name of metrics.keys()) expect(name).toMatch(/^chat_/);

    expect(metrics.get('chat_workers')).toBe(2);
    expect(metrics.get('chat_connections')).toBe(2);
    expect(metrics.get('chat_rooms')).toBe(1);
    expect(metrics.get('chat_joins_total')).toBe(2);
    expect(metrics.get('chat_room_messages_total')).toBe(1);
    // ann's Joined and the Presence of her join; bob's Joined and the Presence of his join to both;
    // the message to both; ann's Sent.
    expect(metrics.get('chat_deliveries_total')).toBe(8);
    expect(metrics.get('chat_errors_total{code="NotJoined"}')).toBe(1);
    expect(metrics.get('chat_errors_total{code="AlreadyJoined"}')).toBe(1);
    expect(metrics.get('chat_requests_total')).toBe(5);
    for (const thread of ['main', 'worker0', 'worker1']) expect(metrics.has(`chat_event_loop_lag_p99_seconds{thread="${thread}"}`)).toBe(true);
    expect(metrics.get('chat_relay_batches_total{direction="to_hub"}')).toBeGreaterThan(0);
    expect(metrics.get('chat_worker_restarts_total')).toBe(0);
    expect(metrics.get('chat_process_resident_memory_bytes')).toBeGreaterThan(0);
    await Promise.all([ann.close(), bob.close()]);
  } finally {
    await host.stop();
  }
});

test('while draining, /readyz fails and /healthz says "draining" on connections still open', async () => {
  // Kept-alive HTTP connections only exist with --http-keep-alive (by default each answer closes its connection).
  const host = await startHost(['--workers', '1', '--shutdown-grace', '3000', '--http-keep-alive']);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ask = (path: string): Promise<{ status: number; body: { status: string } }> =>
    new Promise((resolve, reject) => {
      get(`${host.http}${path}`, { agent }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as { status: string } }));
      }).on('error', reject);
    });
  try {
    expect(await ask('/readyz')).toEqual({ status: 200, body: { status: 'ready' } });
    const client = await TestClient.connect(host.ws);
    host.process.kill('SIGTERM');
    // The client's 1001 means the worker is draining; the kept-alive HTTP connection is still open.
    expect((await client.closed).code).toBe(1001);
    expect(await ask('/readyz')).toEqual({ status: 503, body: { status: 'draining' } });
    expect((await ask('/healthz')).body.status).toBe('draining');
  } finally {
    agent.destroy();
    expect((await host.stop()).code).toBe(0);
  }
});

test('a worker restart shows in chat_worker_restarts_total', async () => {
  const host = await startHost(['--workers', '2', '--fault-injection']);
  try {
    const crash = (await (await fetch(`${host.http}/debug/crash-worker`, { method: 'POST' })).json()) as { worker: number };
    await host.waitForLog((l) => l.msg === 'worker restarted' && l.worker === crash.worker);
    const metrics = await scrape(host.http);
    expect(metrics.get('chat_worker_restarts_total')).toBe(1);
    expect(metrics.get('chat_workers')).toBe(2);
  } finally {
    await host.stop();
  }
});
