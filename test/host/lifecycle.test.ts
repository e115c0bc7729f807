/** Heartbeat, worker crash and restart, graceful shutdown. */
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { describe, expect, test } from 'vitest';
import { encodeClientRequest, PROTOCOL_VERSION } from '../../src/protocol/index.js';
import { connectAcrossWorkers, TestClient } from '../helpers/client.js';
import { startHost, waitForJson } from '../helpers/host.js';

/** A client frame as a browser would send it: FIN + binary, masked. */
function maskedBinaryFrame(payload: Uint8Array): Buffer {
  if (payload.length >= 126) throw new Error('short frames only');
  const mask = randomBytes(4);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x82;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ mask[i % 4]!;
  return out;
}

/** A WebSocket client that completes the handshake, joins, then never reads or answers pings. */
async function deadClient(port: number, room: string, nickname: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = tcpConnect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let received = '';
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('latin1');
      if (received.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
  });
  expect(received).toMatch(/^HTTP\/1\.1 101/);
  socket.write(maskedBinaryFrame(encodeClientRequest({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 1, room, nickname, since: null })));
  // From here on it stays silent; incoming bytes (welcome, joined, pings) are ignored.
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed };
}

describe('heartbeat', () => {
  test('a connection that stops answering is closed and leaves its rooms', { timeout: 60_000 }, async () => {
    const host = await startHost(['--workers', '1', '--idle-timeout', '8']);
    try {
      const witness = await TestClient.connect(host.ws);
      await witness.join('idle', 'witness');
      const dead = await deadClient(host.port, 'idle', 'ghost');
      const joined = await witness.next('memberJoined', (e) => e.member.name === 'ghost');
      expect(joined.member.name).toBe('ghost');
      await dead.closed;
      const left = await witness.next('memberLeft', (e) => e.member.id === joined.member.id);
      expect(left.member).toEqual(joined.member);
      // The witness itself answers pings (the ws package does) and stays connected.
      expect(witness.socket.readyState).toBe(witness.socket.OPEN);
      await witness.close();
    } finally {
      await host.stop();
    }
  });
});

describe('worker crash', () => {
  test('the crashed worker restarts; its clients are closed with 1012 and recover; the others keep serving', async () => {
    const host = await startHost(['--workers', '2', '--fault-injection']);
    try {
      const [first, second] = (await connectAcrossWorkers(host.ws, 2, 2)) as [TestClient[], TestClient[]];
      const everyone = [...first, ...second];
      for (const [i, c] of everyone.entries()) await c.join('crash', `c${i}`);
      for (const c of everyone) await c.heardJoins('crash', [c.id]);
      for (const c of everyone) c.drain();
      await everyone[0]!.say('crash', 'before');

      // Ask whichever worker answers to crash.
      const crash = (await (await fetch(`${host.http}/debug/crash-worker`, { method: 'POST' })).json()) as { worker: number; incarnation: number };
      const victims = everyone.filter((c) => c.incarnation === crash.incarnation.toString(36));
      const survivors = everyone.filter((c) => c.incarnation !== crash.incarnation.toString(36));
      expect(victims).toHaveLength(2);
      expect(survivors).toHaveLength(2);

      for (const v of victims) {
        const closed = await v.closed;
        expect(closed.code).toBe(1012);
        expect(closed.reason).toMatch(/restarting/);
      }
      // Survivors see the victims leave, and are not closed.
      for (const s of survivors) {
        const leftIds = [(await s.next('memberLeft')).member.id, (await s.next('memberLeft')).member.id].sort();
        expect(leftIds).toEqual(victims.map((v) => v.id).sort());
        expect(s.socket.readyState).toBe(s.socket.OPEN);
      }
      await host.waitForLog((l) => l.msg === 'worker restarted' && l.worker === crash.worker);

      // Traffic goes on while the victims are away; they come back and recover it.
      const lastSeen = (await victims[0]!.next('message', (m) => m.text === 'before')).seq;
      await survivors[0]!.say('crash', 'while away 1');
      await survivors[0]!.say('crash', 'while away 2');
      for (const [i, v] of victims.entries()) {
        const back = await TestClient.connect(host.ws);
        const joined = await back.join('crash', `c-back${i}`, lastSeen);
        expect(joined.recovered).toBe(true);
        expect(joined.history.map((m) => m.text)).toEqual(['while away 1', 'while away 2']);
        expect(joined.members.map((m) => m.id)).not.toContain(v.id);
        await back.close();
      }
      const health = await waitForJson<{ workers: number; workerRestarts: number }>(`${host.http}/healthz`, (h) => h.workerRestarts === 1 && h.workers === 2);
      expect(health).toMatchObject({ status: 'ok', workers: 2, workerRestarts: 1 });
      await Promise.all(survivors.map((s) => s.close()));
      expect(host.logs.some((l) => l.msg === 'worker crashed' && String(l.error).includes('fault injection'))).toBe(true);
    } finally {
      const exit = await host.stop();
      expect(exit.code).toBe(0);
      expect(host.stderr()).not.toMatch(/Assertion|uv_loop_close/);
    }
  });
});

describe('graceful shutdown', () => {
  test('SIGTERM under load closes every client with 1001 and the host exits 0', async () => {
    const host = await startHost(['--workers', '2', '--rate-limit', '1000', '--rate-burst', '1000']);
    const groups = await connectAcrossWorkers(host.ws, 2, 3);
    const everyone = groups.flat();
    for (const [i, c] of everyone.entries()) await c.join('bye', `b${i}`);
    // Under load: every client keeps talking (5 requests each per 10 ms, at most 2 s) until its socket closes.
    const talking = everyone.map(async (c, i) => {
      for (let round = 0; round < 200 && c.socket.readyState === c.socket.OPEN; round++) {
        for (let n = 0; n < 5; n++) c.send({ type: 'say', requestId: 0, room: 'bye', text: `busy ${i}.${round}.${n}`, to: null });
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
    // Wait until traffic is flowing through the hub before the signal lands.
    await everyone[0]!.next('message', (m) => m.text.startsWith('busy'));
    const exit = await host.stop('SIGTERM');
    await Promise.all(talking);
    for (const c of everyone) expect(await c.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(exit).toEqual({ code: 0, signal: null });
    expect(host.stderr()).not.toMatch(/Assertion|uv_loop_close/);
    expect(host.logs.some((l) => l.msg === 'shut down cleanly')).toBe(true);
  });

  test('SIGINT with no clients exits 0', async () => {
    const host = await startHost(['--workers', '2']);
    expect(await host.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });
});

describe('a restarted host', () => {
  test('a rejoin with the old epoch is not mistaken for the new room of the same name', async () => {
    const first = await startHost(['--workers', '1']);
    const port = first.port;
    const ann = await TestClient.connect(first.ws);
    const old = await ann.join('epoch', 'ann');
    await ann.say('epoch', 'old 1');
    await ann.say('epoch', 'old 2');
    await ann.close();
    expect((await first.stop()).code).toBe(0);

    // Same name, same port, new life: numbering starts again and runs past what ann saw.
    const second = await startHost(['--workers', '1', '--port', String(port)]);
    try {
      const bob = await TestClient.connect(second.ws);
      const fresh = await bob.join('epoch', 'bob');
      expect(fresh.epoch).not.toBe(old.epoch);
      for (let i = 1; i <= 5; i++) await bob.say('epoch', `new ${i}`);

      const back = await TestClient.connect(second.ws);
      back.send({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 9, room: 'epoch', nickname: 'ann', since: 2, epoch: old.epoch });
      const rejoined = await back.next('joined');
      expect(rejoined.recovered).toBe(false);
      expect(rejoined.history.map((m) => m.text)).toEqual(['new 1', 'new 2', 'new 3', 'new 4', 'new 5']);

      // With the current epoch, the same `since` is a real position.
      await back.leave('epoch');
      back.send({ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 10, room: 'epoch', nickname: 'ann', since: 2, epoch: fresh.epoch });
      const current = await back.next('joined', (j) => j.requestId === 10);
      expect(current.recovered).toBe(true);
      expect(current.history.map((m) => m.text)).toEqual(['new 3', 'new 4', 'new 5']);
      await Promise.all([bob.close(), back.close()]);
    } finally {
      await second.stop();
    }
  });
});
