/**
 * Smoke test of the benchmark tools (the benchmarks themselves never run in CI):
 * the frame parser on split and coalesced chunks, the generator's counts against
 * the real host (built dist/, 2 workers) being exact, and the orchestrator's rate
 * search end to end against the ws peer run in this process.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chatAdapter } from './adapters.js';
import { detectCgroup, setCpuQuota } from './cpu-quota.js';
import { Generator, type Scenario } from './generator.js';
import { lagByThread, metricValue, parsePrometheusText } from './host-metrics.js';
import { startWsPeer } from './peers/ws.js';
import { searchTarget } from './search.js';
import { procProbe, type RunningTarget, startTarget } from './targets.js';
import { type FrameSink, WsConn } from './wsclient.js';
import { parseSeriesValues } from '../test/helpers/prometheus.js';

function serverFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.of(0x80 | opcode, len)
      : len < 65536
        ? Buffer.of(0x80 | opcode, 126, len >> 8, len & 255)
        : Buffer.concat([Buffer.of(0x80 | opcode, 127, 0, 0, 0, 0), Buffer.alloc(4)]);
  if (len >= 65536) head.writeUInt32BE(len, 6);
  return Buffer.concat([head, payload]);
}

describe('WsConn frame parser', () => {
  const payloads = [Buffer.from('a'), Buffer.alloc(125, 1), Buffer.alloc(126, 2), Buffer.alloc(70_000, 3), Buffer.alloc(0)];
  const stream = Buffer.concat(payloads.map((p) => serverFrame(2, p)));
  const parse = (chunks: Buffer[]): Buffer[] => {
    const got: Buffer[] = [];
    const sink: FrameSink = { onFrame: (_c, buf, s, e) => got.push(Buffer.from(buf.subarray(s, e))), onClose: () => undefined };
    const conn = new WsConn(0, new net.Socket(), sink);
    for (const c of chunks) conn.onData(c);
    return got;
  };

  it('reads many frames from one chunk', () => {
    expect(parse([stream])).toEqual(payloads);
  });

  it('reads frames split at every byte', () => {
    const bytes = [...stream.subarray(0, 400)].map((b) => Buffer.of(b));
    expect(parse([...bytes, stream.subarray(400)])).toEqual(payloads);
  });

  it('reads frames split across reads into one reused buffer', () => {
    // Real connections read into one shared buffer that the next read overwrites: a
    // frame's head kept from one read must survive the next.
    const shared = Buffer.alloc(97);
    const chunks: Buffer[] = [];
    for (let at = 0; at < stream.length; at += shared.length) chunks.push(stream.subarray(at, at + shared.length));
    const got: Buffer[] = [];
    const sink: FrameSink = { onFrame: (_c, buf, s, e) => got.push(Buffer.from(buf.subarray(s, e))), onClose: () => undefined };
    const conn = new WsConn(0, new net.Socket(), sink);
    for (const c of chunks) {
      shared.fill(0xee);
      c.copy(shared);
      conn.onData(shared.subarray(0, c.length));
    }
    expect(got).toEqual(payloads);
  });

  it('keeps the code and reason of a close frame', () => {
    const sink: FrameSink = { onFrame: () => undefined, onClose: () => undefined };
    const conn = new WsConn(0, new net.Socket(), sink);
    conn.onData(serverFrame(8, Buffer.concat([Buffer.of(4001 >> 8, 4001 & 255), Buffer.from('too slow: 2000000 bytes')])));
    expect(conn).toMatchObject({ closed: true, closeCode: 4001, closeReason: 'too slow: 2000000 bytes' });
  });
});

describe('host metrics reader', () => {
  it('reads Prometheus text', () => {
    const text = [
      '# HELP chat_event_loop_lag_p99_seconds lag',
      '# TYPE chat_event_loop_lag_p99_seconds gauge',
      'chat_event_loop_lag_p99_seconds{thread="main"} 0.0125',
      'chat_event_loop_lag_p99_seconds{thread="worker0"} 0.002',
      'chat_event_loop_lag_max_seconds{thread="main"} 0.05',
      'chat_closes_total{code="4001"} 3',
      'chat_closes_total{code="1008"} 2',
      'chat_backpressure_closes_total 3',
      '',
    ].join('\n');
    const samples = parsePrometheusText(text);
    expect(metricValue(samples, 'chat_backpressure_closes_total')).toBe(3);
    expect(metricValue(samples, 'chat_closes_total')).toBe(5);
    expect(metricValue(samples, 'chat_deliveries_total')).toBeNull();
    expect(lagByThread(samples)).toEqual({ main: { p99Ms: 12.5, maxMs: 50 }, worker0: { p99Ms: 2, maxMs: 0 } });
  });

  it('keys series as test/helpers/prometheus.ts does, skipping the lines it rejects', () => {
    const valid = ['# TYPE chat_x gauge', 'chat_x{thread="main",note="a } b"} 1.5', 'chat_y 2', 'chat_z{} +Inf', ''].join('\n');
    expect(parsePrometheusText(valid)).toEqual(parseSeriesValues(valid));
    expect([...parsePrometheusText(valid).keys()]).toEqual(['chat_x{thread="main",note="a } b"}', 'chat_y', 'chat_z{}']);
    const malformed = `${valid}chat_bad{thread=main} 3\nchat_nan Nan\n`;
    expect(() => parseSeriesValues(malformed)).toThrow(/line 5 is not a sample line/);
    expect(parsePrometheusText(malformed)).toEqual(parseSeriesValues(valid));
  });
});

describe('fan-out generator', () => {
  let host: RunningTarget | null = null;
  afterAll(async () => {
    await host?.stop();
  });

  it('counts every delivery from the chat host exactly', async () => {
    host = await startTarget({ name: 'chat-host', workers: 2 });
    const scenario: Scenario = { name: 'smoke', connections: 24, roomSize: 6, sendersPerRoom: 2, textBytes: 64 };
    const gen = new Generator(chatAdapter, scenario, host.port);
    try {
      const join = await gen.connectAll(8);
      expect(join).toMatchObject({ joined: 24, failed: 0 });
      const r = await gen.run(400, { warmupMs: 200, windowMs: 800, drainMs: 3000 }, host.probe);
      expect(r.sent).toBeGreaterThan(300);
      expect(r.expected).toBe(r.sent * scenario.roomSize);
      expect(r.received).toBe(r.expected);
      expect(r.lost).toBe(0);
      expect(r.closedConnections).toBe(0);
      expect(r.errorFrames).toBe(0);
      expect(r.latencySamples).toBeGreaterThan(0);
      expect(r.serverRssMB).toBeGreaterThan(0);
      // Every member of a room got every message of that room, and nothing else.
      const byRoom = new Map<string, number[]>();
      for (const c of gen.conns) byRoom.set(c.room, [...(byRoom.get(c.room) ?? []), c.messages]);
      let perRoomTotal = 0;
      for (const counts of byRoom.values()) {
        expect(counts).toHaveLength(scenario.roomSize);
        expect(new Set(counts).size).toBe(1);
        perRoomTotal += counts[0]!;
      }
      expect(perRoomTotal).toBe(r.sent);
    } finally {
      gen.close();
    }
  });

  it('leaves a stalled listener out of the counts', async () => {
    host ??= await startTarget({ name: 'chat-host', workers: 2 });
    const scenario: Scenario = { name: 'smoke-stall', connections: 6, roomSize: 6, sendersPerRoom: 2, textBytes: 64 };
    const gen = new Generator(chatAdapter, scenario, host.port);
    try {
      expect(await gen.connectAll(6)).toMatchObject({ joined: 6, failed: 0 });
      const stalled = gen.conns.at(-1)!;
      expect(() => gen.stall([gen.conns[0]!])).toThrow(/sends/);
      gen.stall([stalled]);
      expect([...gen.roomSizes().values()]).toEqual([5]);
      const r = await gen.run(200, { warmupMs: 100, windowMs: 400, drainMs: 3000 }, host.probe);
      expect(r.expected).toBe(r.sent * 5);
      expect(r).toMatchObject({ lost: 0, closedConnections: 0, errorFrames: 0 });
      expect(r.received).toBe(r.expected);
      expect(stalled.messages).toBe(0);
      const [fresh] = await gen.replace([stalled]);
      expect(fresh).toMatchObject({ joined: true, stalled: false, room: stalled.room });
      expect([...gen.roomSizes().values()]).toEqual([6]);
    } finally {
      gen.close();
    }
  });

  it('runs the rate search against a peer', async () => {
    const peer = await startWsPeer(0);
    const lines: string[] = [];
    try {
      const result = await searchTarget(
        { name: 'ws' },
        { name: 'smoke', connections: 12, roomSize: 4, sendersPerRoom: 1, textBytes: 64 },
        {
          timing: { warmupMs: 100, windowMs: 300, drainMs: 2000 },
          startDeliveries: 400,
          maxDeliveries: 800,
          bisectSteps: 0,
          repeats: 3,
          log: (line) => lines.push(line),
          // Other suites share the CPU under `npm test` (a browser test opens 5,000 sockets meanwhile):
          // neither latency nor how much arrives within the 300 ms window is what this checks; that
          // nothing is lost after the drain and every count is exact is.
          p99LimitMs: 60_000,
          passRatio: 0,
          start: async () => ({ port: peer.port, pid: process.pid, probe: procProbe(process.pid), stop: async () => undefined }),
        },
      );
      expect(result.error, lines.join('\n')).toBeNull();
      expect(result.runs).toHaveLength(5); // 400 and 800 per second, then 3 repeats at 800
      for (const run of result.runs) {
        expect(run, run.failReasons.join('; ')).toMatchObject({ pass: true, lost: 0, closedConnections: 0 });
        expect(run.received).toBe(run.expected);
      }
      expect(result.kneeTargetDeliveriesPerSec).toBe(800);
      expect(result.kneeRepeatsPassed).toBe('3/3');
      expect(result.maxDeliveriesPerSec).toBeGreaterThan(600);
    } finally {
      await peer.close();
    }
  });
});

describe('--cpu-quota', () => {
  // Needs root and a cgroup cpu controller (v1 or v2); skipped elsewhere.
  const usable = ((): boolean => {
    try {
      return process.getuid?.() === 0 && detectCgroup() !== null;
    } catch {
      return false;
    }
  })();

  it.skipIf(!usable)('runs a target, every thread of it, in a cgroup of its own and removes it on stop', async () => {
    const quota = setCpuQuota(0.5)!;
    try {
      expect(quota).toMatchObject({ cores: 0.5, quotaUs: 5000, periodUs: 10_000 });
      const target = await startTarget({ name: 'chat-host', workers: 1 });
      const path = target.cgroup!.path;
      try {
        expect(target.cgroup!.pids()).toEqual([target.pid]);
        const threads = readdirSync(`/proc/${target.pid}/task`);
        expect(threads.length).toBeGreaterThan(1);
        const inCgroup = readFileSync(join(path, quota.cgroupVersion === 1 ? 'tasks' : 'cgroup.threads'), 'utf8').split('\n');
        expect(inCgroup).toEqual(expect.arrayContaining(threads));
        if (quota.cgroupVersion === 1) {
          expect(readFileSync(join(path, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('5000');
          expect(readFileSync(join(path, 'cpu.cfs_period_us'), 'utf8').trim()).toBe('10000');
        } else {
          expect(readFileSync(join(path, 'cpu.max'), 'utf8').trim()).toBe('5000 10000');
        }
        expect(target.cgroup!.stats().periods).toBeGreaterThanOrEqual(0);
      } finally {
        await target.stop();
      }
      expect(existsSync(path)).toBe(false);
    } finally {
      setCpuQuota(null);
    }
  });
});
