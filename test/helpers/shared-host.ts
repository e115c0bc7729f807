/**
 * One host for a test file (or describe block): started in beforeAll, and in
 * afterAll every client it handed out is closed before the host is stopped.
 *
 * A topology of 2 nodes starts a redis-server and two host processes joined to it
 * (--redis): `connect()` then takes turns between the nodes, so the members of every
 * room are spread over both, and the same test bodies run against a single node and
 * a cluster (see TOPOLOGIES).
 */
import { afterAll, beforeAll } from 'vitest';
import { connectAcrossWorkers, TestClient } from './client.js';
import { startHost, type Host } from './host.js';
import { startRedis, type RedisServer } from './redis.js';

export interface Topology {
  readonly name: string;
  readonly nodes: 1 | 2;
}

/** What the core behaviour suites run against. */
export const TOPOLOGIES: readonly Topology[] = [
  { name: 'single node', nodes: 1 },
  { name: '2-node cluster', nodes: 2 },
];

export class SharedHost {
  private started: Host[] = [];
  private redisServer: RedisServer | null = null;
  private readonly clients: TestClient[] = [];
  private turn = 0;

  constructor(
    args: string[],
    readonly topology: Topology = TOPOLOGIES[0]!,
  ) {
    beforeAll(async () => {
      if (topology.nodes === 1) {
        this.started = [await startHost(args)];
        return;
      }
      this.redisServer = await startRedis();
      const redisArgs = ['--redis', this.redisServer.url];
      this.started = await Promise.all([startHost([...args, ...redisArgs]), startHost([...args, ...redisArgs])]);
      await Promise.all(this.started.map((h) => waitInStep(h)));
    });
    afterAll(async () => {
      await Promise.all(this.clients.map((c) => c.close()));
      await Promise.all(this.started.map((h) => h.stop()));
      await this.redisServer?.stop();
    });
  }

  /** The first node. */
  get host(): Host {
    const first = this.started[0];
    if (!first) throw new Error('the shared host is not started yet (use it inside tests or a later beforeAll)');
    return first;
  }

  /** Every node. */
  get hosts(): readonly Host[] {
    return this.started;
  }

  get redis(): RedisServer | null {
    return this.redisServer;
  }

  /** A client connected to the next node in turn, closed in afterAll. */
  async connect(): Promise<TestClient> {
    const host = this.started[this.turn++ % this.started.length];
    if (!host) throw new Error('the shared host is not started yet');
    const client = await TestClient.connect(host.ws);
    this.clients.push(client);
    return client;
  }

  /**
   * `perGroup` clients on each worker of each node (2 workers per node): one group per
   * (node, worker), every group closed in afterAll.
   */
  async connectAcross(perGroup: number, workers = 2): Promise<TestClient[][]> {
    const groups: TestClient[][] = [];
    for (const host of this.started) groups.push(...(await connectAcrossWorkers(host.ws, workers, perGroup)));
    this.track(...groups.flat());
    return groups;
  }

  /** Clients connected elsewhere (connectAcrossWorkers) that afterAll must close too. */
  track(...clients: TestClient[]): void {
    this.clients.push(...clients);
  }
}

const IN_STEP = 'in step with the cluster';

/** Resolves once a cluster node has logged that it is in step with the cluster more than `after` times (once per (re)connection to Redis). */
export function waitInStep(host: Host, after = 0): Promise<Record<string, unknown>> {
  return host.waitForLog((line) => line.msg === IN_STEP && host.logs.filter((l) => l.msg === IN_STEP).length > after);
}

/** How many times the node has been in step so far. */
export function timesInStep(host: Host): number {
  return host.logs.filter((l) => l.msg === IN_STEP).length;
}
