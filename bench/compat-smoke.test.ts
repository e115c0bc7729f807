/** The `compat` fan-out target: the generator speaking the seed's JSON protocol to the host's --compat-port counts every delivery exactly. */
import { afterAll, describe, expect, it } from 'vitest';
import { compatAdapter } from './adapters.js';
import { Generator, type Scenario } from './generator.js';
import { NAMED_TARGETS, type RunningTarget, startTarget } from './targets.js';

describe('fan-out generator on the workerman-chat port', () => {
  let host: RunningTarget | null = null;
  afterAll(async () => {
    await host?.stop();
  });

  it('joins with login, counts every say exactly, and nothing else', async () => {
    host = await startTarget(NAMED_TARGETS.compat!);
    const scenario: Scenario = { name: 'smoke-compat', connections: 24, roomSize: 6, sendersPerRoom: 2, textBytes: 64 };
    const gen = new Generator(compatAdapter, scenario, host.port);
    try {
      expect(await gen.connectAll(8)).toMatchObject({ joined: 24, failed: 0 });
      const r = await gen.run(400, { warmupMs: 200, windowMs: 800, drainMs: 3000 }, host.probe);
      expect(r.sent).toBeGreaterThan(300);
      expect(r.expected).toBe(r.sent * scenario.roomSize);
      expect(r.received).toBe(r.expected);
      expect(r).toMatchObject({ lost: 0, closedConnections: 0, errorFrames: 0 });
      expect(r.latencySamples).toBeGreaterThan(0);
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
});
