/**
 * A node's liveness in the cluster: a heartbeat key per node with a TTL of
 * --node-ttl, and the reaper. Every node looks for nodes whose key has expired and
 * removes their members, with member-left frames (the leave script publishes them
 * once, however many nodes reap at the same time). For one TTL after its connection
 * to Redis comes (back) up a node reaps nobody: keys that expired while Redis itself
 * was away (an AOF restart keeps their expiry times) say nothing about the peers, and
 * a live peer beats again within that time.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { MemberInfo } from '../../protocol/index.js';
import { type ClusterKeys, nicknameIn } from './format.js';

export interface LivenessSettings {
  readonly nodeId: string;
  /** A node whose heartbeat is older than this has its members removed by the others. */
  readonly nodeTtlMs: number;
}

/** Takes one member out of a room in Redis (only if it is on `node`); 1 when it was there. */
export type LeaveInRedis = (room: string, member: MemberInfo, node: string) => Promise<number>;

export class NodeLiveness {
  /** No reaping before this (performance.now()): one TTL after the connection came (back) up. */
  private reapFrom: number;

  constructor(
    private readonly settings: LivenessSettings,
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    private readonly leaveInRedis: LeaveInRedis,
    private readonly log: Logger,
  ) {
    this.reapFrom = performance.now() + settings.nodeTtlMs;
    redis.on('ready', () => {
      this.reapFrom = performance.now() + settings.nodeTtlMs;
    });
  }

  /** How often a node beats: a quarter of the TTL, so that one late beat does not get it reaped. */
  get interval(): number {
    return Math.max(250, Math.floor(this.settings.nodeTtlMs / 4));
  }

  /**
   * Renews this node's heartbeat, then reaps dead nodes (once the grace after a
   * reconnect is over). `takenForDead` runs when this node was missing from the node
   * set: the others removed its members.
   */
  async beat(takenForDead: () => void): Promise<void> {
    if (this.redis.status !== 'ready') return;
    const node = this.settings.nodeId;
    try {
      const replies = await this.redis.multi().set(this.keys.nodeAlive(node), '1', 'PX', this.settings.nodeTtlMs).sadd(this.keys.nodes, node).exec();
      if (replies?.[1]?.[1] === 1) takenForDead();
      if (performance.now() >= this.reapFrom) await this.reap();
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'heartbeat failed');
    }
  }

  /** On a clean stop: the others forget this node at once instead of after the TTL. */
  async leave(): Promise<void> {
    const node = this.settings.nodeId;
    await Promise.allSettled([this.redis.del(this.keys.nodeAlive(node)), this.redis.srem(this.keys.nodes, node)]);
  }

  /** Takes every member of `node` out of `room` in Redis, with member-left frames; returns how many. */
  async removeMembersOf(node: string, room: string): Promise<number> {
    const members = await this.redis.hgetall(this.keys.members(room));
    let removed = 0;
    for (const [id, value] of Object.entries(members)) {
      if (!value.startsWith(`${node}\t`)) continue;
      removed += await this.leaveInRedis(room, { id, name: nicknameIn(value) }, node);
    }
    return removed;
  }

  /** Removes the members of nodes whose heartbeat has expired. */
  private async reap(): Promise<void> {
    const nodes = (await this.redis.smembers(this.keys.nodes)).filter((n) => n !== this.settings.nodeId);
    if (nodes.length === 0) return;
    const alive = await Promise.all(nodes.map((n) => this.redis.exists(this.keys.nodeAlive(n))));
    for (const [i, dead] of nodes.entries()) {
      if (alive[i] === 1) continue;
      const rooms = await this.redis.smembers(this.keys.nodeRooms(dead));
      let removed = 0;
      for (const room of rooms) removed += await this.removeMembersOf(dead, room);
      const replies = await this.redis.multi().del(this.keys.nodeRooms(dead)).srem(this.keys.nodes, dead).exec();
      // A node that stopped cleanly between our look at the set and at its heartbeat has
      // already taken its members out and left the set itself: it did not expire.
      if (removed === 0 && replies?.[1]?.[1] !== 1) continue;
      // `peer`, not `node`: the logger's own fields already name this node as `node`.
      this.log.warn({ peer: dead, rooms: rooms.length, members: removed }, 'node expired: its members were removed');
    }
  }
}
