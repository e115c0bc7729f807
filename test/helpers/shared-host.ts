/**
 * One host for a test file (or describe block): started in beforeAll, and in
 * afterAll every client it handed out is closed before the host is stopped.
 */
import { afterAll, beforeAll } from 'vitest';
import { TestClient } from './client.js';
import { startHost, type Host } from './host.js';

export class SharedHost {
  private current: Host | null = null;
  private readonly clients: TestClient[] = [];

  constructor(args: string[]) {
    beforeAll(async () => {
      this.current = await startHost(args);
    });
    afterAll(async () => {
      await Promise.all(this.clients.map((c) => c.close()));
      await this.current?.stop();
    });
  }

  get host(): Host {
    if (!this.current) throw new Error('the shared host is not started yet (use it inside tests or a later beforeAll)');
    return this.current;
  }

  /** A client connected to the host, closed in afterAll. */
  async connect(): Promise<TestClient> {
    const client = await TestClient.connect(this.host.ws);
    this.clients.push(client);
    return client;
  }

  /** Clients connected elsewhere (connectAcrossWorkers) that afterAll must close too. */
  track(...clients: TestClient[]): void {
    this.clients.push(...clients);
  }
}
