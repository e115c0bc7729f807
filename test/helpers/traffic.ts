/** Steady room traffic for fault tests: senders that wait for each reply, with the outcome of every message. */
import type { ErrorEvent, TestClient } from './client.js';

/** The most messages one sender may try: the load loop's bound. */
export const MAX_SENDS = 20_000;
/** Pause between one sender's requests, so that the refused ones during an outage stay few. */
const PACE_MS = 2;

export interface Outcome {
  readonly text: string;
  /** The seq the host gave it, or null when refused. */
  readonly seq: number | null;
  readonly error: ErrorEvent | null;
}

export class Traffic {
  accepted = 0;
  refused = 0;
  private stopped = false;
  private readonly wakers: (() => void)[] = [];
  private readonly running: Promise<Outcome[]>[];

  /** Starts one sender per client, each saying numbered messages into `room`. */
  constructor(senders: readonly TestClient[], room: string) {
    this.running = senders.map((client) => this.send(client, room));
  }

  /** Resolves once `condition` holds (checked after every reply). */
  async until(condition: (t: Traffic) => boolean): Promise<void> {
    while (!condition(this)) await new Promise<void>((resolve) => this.wakers.push(resolve));
  }

  /** Stops the senders and resolves with every outcome. */
  async stop(): Promise<Outcome[]> {
    this.stopped = true;
    return (await Promise.all(this.running)).flat();
  }

  private async send(client: TestClient, room: string): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    for (let n = 0; n < MAX_SENDS && !this.stopped; n++) {
      const requestId = client.newRequestId();
      const text = `${client.id}#${n}`;
      client.send({ type: 'say', requestId, room, text, to: null });
      const reply = await client.nextWhere((e) => 'requestId' in e && e.requestId === requestId && (e.type === 'sent' || e.type === 'error'));
      const outcome = { text, seq: reply.type === 'sent' ? reply.seq : null, error: reply.type === 'error' ? reply : null };
      outcomes.push(outcome);
      if (outcome.seq !== null) this.accepted++;
      else this.refused++;
      for (const wake of this.wakers.splice(0)) wake();
      await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    }
    return outcomes;
  }
}

/** Every room message of `room` each client receives, up to and including `lastSeq`. */
export function receiveUpTo(clients: readonly TestClient[], room: string, lastSeq: number): Promise<{ seq: number; text: string }[][]> {
  return Promise.all(
    clients.map(async (c) => {
      const messages = [];
      for (;;) {
        const m = await c.next('message', (e) => e.room === room);
        messages.push({ seq: m.seq, text: m.text });
        if (m.seq >= lastSeq) return messages;
      }
    }),
  );
}
