/**
 * MemberSet: members by id and in nickname order, paged. Checked against a plain
 * sorted list under random adds and removes, across many block splits and merges.
 */
import { describe, expect, test } from 'vitest';
import type { MemberInfo } from '../../src/protocol/index.js';
import { MemberSet } from '../../src/rooms/member-set.js';
import { nicknameKey } from '../../src/rooms/rules.js';
import { mulberry32 } from '../helpers/random.js';

const m = (id: string, name: string): MemberInfo => ({ id, name });

/** Every member, page by page. */
function allPages(set: MemberSet, prefix = '', limit = 7): MemberInfo[] {
  const out: MemberInfo[] = [];
  let after = '';
  for (let pages = 0; pages < 100_000; pages++) {
    const page = set.page(after, prefix, limit);
    expect(page.members.length).toBeLessThanOrEqual(limit);
    out.push(...page.members);
    if (page.nextAfter === '') return out;
    expect(page.members).toHaveLength(limit);
    after = page.nextAfter;
  }
  throw new Error('paging did not end');
}

/** The reference order: case-folded nickname, then id. */
function sorted(members: Iterable<MemberInfo>, prefix = ''): MemberInfo[] {
  const key = (x: MemberInfo): string => `${nicknameKey(x.name)}\u0000${x.id}`;
  return [...members].filter((x) => nicknameKey(x.name).startsWith(nicknameKey(prefix))).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

describe('MemberSet', () => {
  test('pages in case-folded nickname order; nextAfter is empty on the last page', () => {
    const set = new MemberSet();
    for (const [id, name] of [
      ['c1', 'bob'],
      ['c2', 'Ann'],
      ['c3', 'carl'],
      ['c4', 'anna'],
      ['c5', 'Zoë'],
    ] as const)
      set.add(m(id, name));
    expect(set.size).toBe(5);
    const first = set.page('', '', 2);
    expect(first.members.map((x) => x.name)).toEqual(['Ann', 'anna']);
    expect(first.nextAfter).not.toBe('');
    const second = set.page(first.nextAfter, '', 2);
    expect(second.members.map((x) => x.name)).toEqual(['bob', 'carl']);
    const third = set.page(second.nextAfter, '', 2);
    expect(third).toEqual({ members: [m('c5', 'Zoë')], nextAfter: '' });
    // A page that ends exactly at the last member says so.
    expect(set.page('', '', 5).nextAfter).toBe('');
  });

  test('a prefix finds names that start with it, in any case, and nothing else', () => {
    const set = new MemberSet();
    for (const [i, name] of ['ann', 'Anna', 'annabel', 'bob', 'ANT', 'an'].entries()) set.add(m(`c${i}`, name));
    expect(set.page('', 'ANN', 10).members.map((x) => x.name)).toEqual(['ann', 'Anna', 'annabel']);
    expect(set.page('', 'an', 2)).toMatchObject({ members: [{ name: 'an' }, { name: 'ann' }] });
    expect(allPages(set, 'an', 2).map((x) => x.name)).toEqual(['an', 'ann', 'Anna', 'annabel', 'ANT']);
    expect(set.page('', 'zed', 10)).toEqual({ members: [], nextAfter: '' });
  });

  test('removing and re-adding: ids, nicknames and pages stay consistent', () => {
    const set = new MemberSet();
    set.add(m('c1', 'ann'));
    set.add(m('c2', 'bob'));
    expect(set.hasNickname('ANN')).toBe(true);
    expect(set.remove('c1')).toEqual(m('c1', 'ann'));
    expect(set.remove('c1')).toBeUndefined();
    expect(set.hasNickname('ann')).toBe(false);
    set.add(m('c2', 'robert')); // same id, new name: replaced
    expect(set.size).toBe(1);
    expect(set.page('', '', 10).members).toEqual([m('c2', 'robert')]);
    expect(set.hasNickname('bob')).toBe(false);
  });

  test('two members of one nickname (a repair in progress) both page, and each leaves by its own id', () => {
    const set = new MemberSet();
    set.add(m('n1:1', 'ann'));
    set.add(m('n2:1', 'Ann'));
    expect(allPages(set, '', 1).map((x) => x.id)).toEqual(['n1:1', 'n2:1']);
    set.remove('n2:1');
    expect(allPages(set).map((x) => x.id)).toEqual(['n1:1']);
  });

  test('random adds and removes across thousands of members match a sorted list, page by page', () => {
    const random = mulberry32(12345);
    const set = new MemberSet();
    const reference = new Map<string, MemberInfo>();
    const names = ['ann', 'bob', 'Carl', 'dana', 'Émile', 'zoë', 'ANNA', 'b', 'x'];
    for (let step = 0; step < 20_000; step++) {
      const id = `c${Math.floor(random() * 3000)}`;
      if (reference.has(id) && random() < 0.45) {
        set.remove(id);
        reference.delete(id);
      } else {
        const member = m(id, `${names[Math.floor(random() * names.length)]}${Math.floor(random() * 500)}`);
        set.add(member);
        reference.set(id, member);
      }
      if (step % 4000 === 3999) {
        expect(set.size).toBe(reference.size);
        expect(allPages(set, '', 97)).toEqual(sorted(reference.values()));
        expect(allPages(set, 'ANN', 13)).toEqual(sorted(reference.values(), 'ann'));
      }
    }
    // Empty it completely, then use it again.
    for (const id of [...reference.keys()]) set.remove(id);
    expect(set.size).toBe(0);
    expect(set.page('', '', 10)).toEqual({ members: [], nextAfter: '' });
    set.add(m('c1', 'again'));
    expect(set.page('', '', 10).members).toEqual([m('c1', 'again')]);
  });

  test('a cursor stays valid while members come and go: each member present throughout is seen exactly once', () => {
    const set = new MemberSet();
    for (let i = 0; i < 1000; i++) set.add(m(`c${i}`, `user${String(i).padStart(4, '0')}`));
    const seen: string[] = [];
    let after = '';
    for (let round = 0; ; round++) {
      const page = set.page(after, '', 50);
      seen.push(...page.members.map((x) => x.id));
      // Churn between pages: someone early leaves, someone new arrives at both ends.
      set.remove(`c${round}`);
      set.add(m(`new-a${round}`, `aaa${round}`));
      set.add(m(`new-z${round}`, `zzz${round}`));
      if (page.nextAfter === '') break;
      after = page.nextAfter;
    }
    const stable = Array.from({ length: 1000 }, (_, i) => `c${i}`).filter((id) => set.has(id));
    for (const id of stable) expect(seen.filter((s) => s === id)).toHaveLength(1);
    expect(new Set(seen).size).toBe(seen.length);
  });
});
