/**
 * Client ids for compat clients: every member of a room, whatever protocol it speaks,
 * shown as 20 hexadecimal characters, as the seed's ids are.
 *
 * The id is the first 80 bits of HMAC-SHA256 of the member's connection id, keyed by the
 * cluster's name: the same member gets the same client id on every worker and every node
 * of a cluster (no table to share), and connection ids never need to be parsed back. The
 * other direction, client id -> member, is a lookup among the members a worker has seen
 * in the room (room-view.ts); that makes private messages room-scoped by construction.
 * Two members of one room share a client id with a probability of about n^2 / 2^81.
 */
import { createHmac } from 'node:crypto';
import { CLIENT_ID_LENGTH } from './protocol.js';

/** Ids computed and kept per worker; past this many the cache starts afresh (each is a few bytes and one HMAC to redo). */
const MAX_CACHED = 100_000;

export class ClientIds {
  private readonly key: string;
  private readonly cache = new Map<string, string>();

  constructor(clusterName: string) {
    this.key = `workerman-chat client id:${clusterName}`;
  }

  /** The client id of the member with connection id `memberId`. */
  of(memberId: string): string {
    let id = this.cache.get(memberId);
    if (id === undefined) {
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      id = createHmac('sha256', this.key).update(memberId).digest('hex').slice(0, CLIENT_ID_LENGTH);
      this.cache.set(memberId, id);
    }
    return id;
  }
}
