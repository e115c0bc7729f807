/**
 * What a cluster test starts (Redis, host processes, clients), stopped after each test in
 * the order that lets each part close cleanly: clients, then hosts, then Redis.
 */
import { afterEach } from 'vitest';
import type { TestClient } from './client.js';
import type { Host } from './host.js';
import type { RedisServer } from './redis.js';

export class ClusterParts {
  redis: RedisServer | null = null;
  readonly hosts: Host[] = [];
  readonly clients: TestClient[] = [];

  /** Stops everything started so far and forgets it. */
  async stop(): Promise<void> {
    const clients = this.clients.splice(0);
    const hosts = this.hosts.splice(0);
    const redis = this.redis;
    this.redis = null;
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(hosts.map((h) => h.stop()));
    await redis?.stop();
  }
}

/** A ClusterParts that is stopped after every test of the file. */
export function clusterPartsPerTest(): ClusterParts {
  const parts = new ClusterParts();
  afterEach(() => parts.stop());
  return parts;
}
