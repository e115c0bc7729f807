/**
 * A room's members in two orders: by id, and by case-folded nickname for paging
 * (MemberPage, the first page in Joined, prefix search). A page's cursor
 * (`nextAfter`) is the sort key of its last member, opaque to clients. Adding or removing a member
 * costs O(log N) plus a splice within one block of at most 2 * BLOCK entries, never
 * work proportional to the room's size; a page costs O(log N + page size).
 */
import type { MemberInfo } from '../protocol/index.js';
import { nicknameKey } from './rules.js';
import { nicknameKeys } from './skeleton.js';

/** Entries per block before it splits in two (a sorted list of blocks: a flat B-tree). */
const BLOCK = 128;

/** Sort keys and members side by side (not an object per entry: one per member of every room, bench/memory-parts.ts). */
interface Block<T> {
  readonly keys: string[];
  readonly members: T[];
}

export interface MemberPageSlice<T> {
  readonly members: T[];
  /** The key to page on from; '' when no more members match. */
  readonly nextAfter: string;
}

export class MemberSet<T extends MemberInfo = MemberInfo> {
  private readonly byId = new Map<string, T>();
  /** Both uniqueness keys of every member (nicknameKeys: case-folded and look-alike), in one map as in Redis. */
  private readonly idsByKey = new Map<string, string>();
  /** Sorted by key; every block non-empty. */
  private blocks: Block<T>[] = [];

  get size(): number {
    return this.byId.size;
  }

  get(id: string): T | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Whether someone has this nickname, ignoring case, or one that looks the same. */
  hasNickname(name: string): boolean {
    return nicknameKeys(name).some((key) => this.idsByKey.has(key));
  }

  /** The ids of the members whose nickname this one clashes with (by either key): none, one, or two. */
  nicknameOwners(name: string): string[] {
    const ids = new Set<string>();
    for (const key of nicknameKeys(name)) {
      const id = this.idsByKey.get(key);
      if (id !== undefined) ids.add(id);
    }
    return [...ids];
  }

  values(): IterableIterator<T> {
    return this.byId.values();
  }

  /** Adds a member, or replaces the one with the same id; the caller keeps nicknames unique. */
  add(member: T): void {
    this.remove(member.id);
    this.byId.set(member.id, member);
    // A key equal to the name (a name already case-folded) is kept as the name's own string, not a copy.
    for (const nameKey of nicknameKeys(member.name)) this.idsByKey.set(nameKey === member.name ? member.name : nameKey, member.id);
    const key = sortKey(member);
    if (this.blocks.length === 0) {
      this.blocks.push({ keys: [key], members: [member] });
      return;
    }
    const b = this.blockFor(key);
    const block = this.blocks[b]!;
    const i = lowerBound(block.keys, key);
    block.keys.splice(i, 0, key);
    block.members.splice(i, 0, member);
    if (block.keys.length > 2 * BLOCK) this.blocks.splice(b + 1, 0, { keys: block.keys.splice(BLOCK), members: block.members.splice(BLOCK) });
  }

  remove(id: string): T | undefined {
    const member = this.byId.get(id);
    if (!member) return undefined;
    this.byId.delete(id);
    for (const nameKey of nicknameKeys(member.name)) if (this.idsByKey.get(nameKey) === id) this.idsByKey.delete(nameKey);
    const key = sortKey(member);
    const b = this.blockFor(key);
    const block = this.blocks[b]!;
    const i = lowerBound(block.keys, key);
    if (block.keys[i] === key) {
      block.keys.splice(i, 1);
      block.members.splice(i, 1);
    }
    if (block.keys.length === 0) this.blocks.splice(b, 1);
    return member;
  }

  /**
   * Members whose key comes after `after` and starts with the case-folded `prefix`,
   * in key order, at most `limit`.
   */
  page(after: string, prefix: string, limit: number): MemberPageSlice<T> {
    const start = nicknameKey(prefix);
    const members: T[] = [];
    // Begin at the first key > after, or at the first key >= the prefix, whichever is later.
    const fromAfter = after >= start;
    let b = this.blockFor(fromAfter ? after : start);
    let i = b < this.blocks.length ? upperOrLowerBound(this.blocks[b]!.keys, fromAfter ? after : start, fromAfter) : 0;
    let lastKey = '';
    for (; b < this.blocks.length; b++, i = 0) {
      const { keys, members: blockMembers } = this.blocks[b]!;
      for (; i < keys.length; i++) {
        const key = keys[i]!;
        if (!key.startsWith(start)) return { members, nextAfter: '' };
        if (members.length === limit) return { members, nextAfter: lastKey };
        members.push(blockMembers[i]!);
        lastKey = key;
      }
    }
    return { members, nextAfter: '' };
  }

  /** The first block whose last key is >= key (the last block when none is). */
  private blockFor(key: string): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const keys = this.blocks[mid]!.keys;
      if (keys[keys.length - 1]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * The order of pages: the case-folded nickname, then the id, so that keys are
 * unique even while a repair briefly holds two members of one nickname. A NUL
 * sorts before every character a nickname may have.
 */
function sortKey(member: MemberInfo): string {
  return `${nicknameKey(member.name)}\u0000${member.id}`;
}

/** The first index whose key is >= key. */
function lowerBound(keys: readonly string[], key: string): number {
  return upperOrLowerBound(keys, key, false);
}

/** The first index whose key is > key (`strict`) or >= key. */
function upperOrLowerBound(keys: readonly string[], key: string, strict: boolean): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const k = keys[mid]!;
    if (k < key || (strict && k === key)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
