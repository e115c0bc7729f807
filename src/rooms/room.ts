/**
 * One room's state at its sequencer: members, the message sequence and the
 * recent history. Plain data; no I/O.
 */
import type { ChatMessage, MemberInfo } from '../protocol/index.js';
import { type MemberPageSlice, MemberSet } from './member-set.js';

export interface Member extends MemberInfo {
  /** Index of the worker thread holding the member's socket. */
  readonly worker: number;
  /** The hash of the membership's resume key (sequencer/resume.ts); absent: it cannot be resumed. */
  readonly resumeHash?: string;
}

export interface HistorySlice {
  readonly messages: ChatMessage[];
  /** True when `since` was given and every message after it is in `messages`. */
  readonly recovered: boolean;
}

export class Room {
  readonly name: string;
  /** This incarnation of the room: a room created again numbers its messages from 1 under a new epoch. */
  readonly epoch: number;
  private readonly members = new MemberSet<Member>();
  /** Members per worker, so that traffic goes only to workers with members. */
  private readonly membersPerWorker = new Map<number, number>();
  /** Ring buffer of the last `capacity` room messages, oldest at `start`. */
  private readonly ring: (ChatMessage | undefined)[];
  private start = 0;
  private count = 0;
  private head = 0;
  /** When the room last became empty (ms), or null while it has members. */
  emptySince: number | null;

  constructor(name: string, historyCapacity: number, now: number, epoch = 0) {
    this.name = name;
    this.epoch = epoch;
    this.ring = new Array<ChatMessage | undefined>(historyCapacity);
    this.emptySince = now;
  }

  get headSeq(): number {
    return this.head;
  }

  get size(): number {
    return this.members.size;
  }

  member(id: string): Member | undefined {
    return this.members.get(id);
  }

  memberList(): Member[] {
    return [...this.members.values()];
  }

  /** Members in case-folded nickname order: after the cursor `after`, starting with `prefix`, at most `limit`. */
  page(after: string, prefix: string, limit: number): MemberPageSlice<Member> {
    return this.members.page(after, prefix, limit);
  }

  hasNickname(name: string): boolean {
    return this.members.hasNickname(name);
  }

  /**
   * The member holding `name` when a rejoin with the resume key hashing to `resumeHash`
   * may take it over: one member holds it (by either of its keys) and its key is that one.
   */
  resumable(name: string, resumeHash: string): Member | undefined {
    const owners = this.members.nicknameOwners(name);
    const owner = owners.length === 1 ? this.members.get(owners[0]!) : undefined;
    return owner?.resumeHash !== undefined && owner.resumeHash === resumeHash ? owner : undefined;
  }

  /** Workers holding at least one member, in ascending order. */
  workers(): number[] {
    return [...this.membersPerWorker.keys()].sort((a, b) => a - b);
  }

  add(member: Member): void {
    this.members.add(member);
    this.membersPerWorker.set(member.worker, (this.membersPerWorker.get(member.worker) ?? 0) + 1);
    this.emptySince = null;
  }

  remove(id: string, now: number): Member | undefined {
    const member = this.members.remove(id);
    if (!member) return undefined;
    const left = (this.membersPerWorker.get(member.worker) ?? 1) - 1;
    if (left > 0) this.membersPerWorker.set(member.worker, left);
    else this.membersPerWorker.delete(member.worker);
    if (this.members.size === 0) this.emptySince = now;
    return member;
  }

  /** Gives the next sequence number to a room message and keeps it in history. */
  append(sender: MemberInfo, text: string, timestampMs: number): ChatMessage {
    const message: ChatMessage = { room: this.name, seq: ++this.head, sender, to: null, text, timestampMs };
    const capacity = this.ring.length;
    if (capacity === 0) return message;
    if (this.count < capacity) {
      this.ring[(this.start + this.count) % capacity] = message;
      this.count++;
    } else {
      this.ring[this.start] = message;
      this.start = (this.start + 1) % capacity;
    }
    return message;
  }

  /** The last `limit` kept messages, oldest first. */
  recent(limit: number): ChatMessage[] {
    const n = Math.min(limit, this.count);
    const out: ChatMessage[] = [];
    for (let i = this.count - n; i < this.count; i++) out.push(this.ring[(this.start + i) % this.ring.length]!);
    return out;
  }

  /**
   * With `since` (the last seq the client saw): every message after it when all of
   * them are still kept (recovered), else the most recent `limit`. A `since` from
   * another epoch (0: unknown, trusted) belongs to an earlier room of that name.
   */
  historyFor(since: number | null, limit: number, sinceEpoch = 0): HistorySlice {
    if (since !== null && since <= this.head && (sinceEpoch === 0 || sinceEpoch === this.epoch)) {
      const missed = this.head - since;
      if (missed === 0) return { messages: [], recovered: true };
      if (missed <= this.count) return { messages: this.recent(missed), recovered: true };
    }
    return { messages: this.recent(limit), recovered: false };
  }
}
