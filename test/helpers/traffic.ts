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

/** A room message as a client saw it, with the epoch it belongs to (from the client's last Joined of the room). */
export interface Seen {
  readonly epoch: number;
  readonly seq: number;
  readonly text: string;
}

/**
 * Each client's room messages, in arrival order, tagged with their epoch: a Joined with
 * request id 0 (the host's word that the room started again) switches the epoch for what
 * follows. `epochs[i]` is client i's epoch when this starts; it reads until `done` holds
 * for a message. Resolves with the messages and the new epochs each client was told of.
 */
export function receiveWithEpochs(
  clients: readonly TestClient[],
  room: string,
  epochs: readonly number[],
  done: (m: Seen) => boolean,
): Promise<{ seen: Seen[]; restarts: { epoch: number; recovered: boolean; headSeq: number }[] }[]> {
  return Promise.all(
    clients.map(async (c, i) => {
      let epoch = epochs[i]!;
      const seen: Seen[] = [];
      const restarts: { epoch: number; recovered: boolean; headSeq: number }[] = [];
      for (;;) {
        const e = await c.nextWhere((x) => x.type === 'message' || (x.type === 'joined' && x.requestId === 0));
        if (e.type === 'joined') {
          if (e.room !== room) continue;
          epoch = e.epoch;
          restarts.push({ epoch: e.epoch, recovered: e.recovered, headSeq: e.headSeq });
          continue;
        }
        if (e.type !== 'message' || e.room !== room) continue;
        const m = { epoch, seq: e.seq, text: e.text };
        seen.push(m);
        if (done(m)) return { seen, restarts };
      }
    }),
  );
}

/** Fails when one (epoch, seq) names two different texts anywhere in `lists`. */
export function oneTextPerNumber(lists: readonly (readonly Seen[])[]): Map<string, string> {
  const named = new Map<string, string>();
  for (const list of lists) {
    for (const m of list) {
      const key = `${m.epoch}:${m.seq}`;
      const before = named.get(key);
      if (before !== undefined && before !== m.text) throw new Error(`seq ${m.seq} of epoch ${m.epoch} names "${before}" and "${m.text}"`);
      named.set(key, m.text);
    }
  }
  return named;
}
