/**
 * Names people can trust (issue 13, item 5), over real sockets on a single node and
 * on a 2-node cluster (uniqueness then holds through Redis, with the impostors on
 * both nodes): C1 controls in text are InvalidText; names that render blank, and
 * look-alikes of a member made with invisible or bidirectional characters, are
 * InvalidNickname; look-alikes made of other letters (Cyrillic "Аnn", fullwidth,
 * case) are NicknameTaken. Names in other scripts still join.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import type { ErrorCodeName, MemberInfo } from '../../src/protocol/index.js';
import type { ErrorEvent, TestClient } from '../helpers/client.js';
import { SharedHost, TOPOLOGIES } from '../helpers/shared-host.js';

type Outcome = { readonly code: ErrorCodeName | 'Joined'; readonly message: string };

/** Joins and reports what the host answered; a join that should not have passed is undone. */
async function attempt(client: TestClient, room: string, nickname: string): Promise<Outcome> {
  try {
    const joined = await client.join(room, nickname);
    await client.leave(room);
    return { code: 'Joined', message: joined.you.name };
  } catch (error) {
    const event = (error as { event?: ErrorEvent }).event;
    if (!event) throw error;
    return { code: event.code, message: event.message };
  }
}

async function membersByPrefix(client: TestClient, room: string, prefix: string): Promise<readonly MemberInfo[]> {
  const requestId = client.newRequestId();
  client.send({ type: 'members', requestId, room, after: '', prefix, limit: 100 });
  const reply = await client.nextWhere((e) => 'requestId' in e && e.requestId === requestId);
  if (reply.type !== 'memberPage') throw new Error(`expected a member page, got ${JSON.stringify(reply)}`);
  return reply.members;
}

describe.each(TOPOLOGIES)('$name', (topology) => {
  const shared = new SharedHost(['--workers', '2'], topology);
  const connect = (): Promise<TestClient> => shared.connect();
  let ann: TestClient;
  /** Two clients; on the cluster one on each node (connect takes turns between nodes). */
  let impostors: TestClient[];

  beforeAll(async () => {
    ann = await connect();
    impostors = [await connect(), await connect()];
    await ann.join('names', 'Ann');
  });

  test('C1 controls in a message are InvalidText, and nobody receives the message', async () => {
    const speaker = await connect();
    await speaker.join('names', 'speaker');
    await ann.heardJoins('names', [speaker.id]);
    const c1 = ['\u009b31mred', 'line\u0085break', 'a\u0080b', 'a\u009fb', 'osc\u009d0;title\u009c'];
    for (const text of c1) {
      const outcome = await speaker.say('names', text).then(
        () => ({ code: 'Sent', message: '' }),
        (error: { event: ErrorEvent }) => error.event,
      );
      expect(outcome.code, JSON.stringify(text)).toBe('InvalidText');
      expect(outcome.message).toMatch(/control characters/);
    }
    // Text right next to the C1 range still passes; it is the first message Ann gets.
    const fine = 'no\u00a0break, \u00a1ole!';
    await speaker.say('names', fine);
    expect((await ann.next('message')).text).toBe(fine);
    await speaker.leave('names');
  });

  test('names that render blank are InvalidNickname, and the message says what is refused', async () => {
    const blank: [string, RegExp][] = [
      ['\u2800', /blank symbols/],
      ['\u2800\u2800\u2800', /blank symbols/],
      ['\u3164', /invisible characters/],
      ['\u115f\u1160', /invisible characters/],
      ['\uffa0', /invisible characters/],
      ['\u200b', /invisible characters/],
    ];
    for (const [nickname, message] of blank) {
      const outcome = await attempt(impostors[0]!, 'blank', nickname);
      expect(outcome.code, JSON.stringify(nickname)).toBe('InvalidNickname');
      expect(outcome.message).toMatch(message);
    }
  });

  // While "Ann" is in the room, each of these displays as "Ann" (the list).
  const lookAlikes: [string, string, ErrorCodeName, RegExp][] = [
    ['a zero-width space before', '\u200bAnn', 'InvalidNickname', /invisible characters/],
    ['a zero-width space after', 'Ann\u200b', 'InvalidNickname', /invisible characters/],
    ['a zero-width joiner before', '\u200dAnn', 'InvalidNickname', /invisible characters/],
    ['a zero-width joiner after', 'Ann\u200d', 'InvalidNickname', /invisible characters/],
    ['a zero-width non-joiner inside', 'An\u200cn', 'InvalidNickname', /invisible characters/],
    ['a soft hyphen', 'An\u00adn', 'InvalidNickname', /invisible characters/],
    ['a variation selector', 'Ann\ufe0f', 'InvalidNickname', /invisible characters/],
    ['a word joiner', 'Ann\u2060', 'InvalidNickname', /invisible characters/],
    ['tag characters', 'Ann\u{e0041}\u{e007f}', 'InvalidNickname', /invisible characters/],
    ['a Hangul filler', 'Ann\u3164', 'InvalidNickname', /invisible characters/],
    ['a right-to-left override + "nnA"', '\u202ennA', 'InvalidNickname', /bidirectional controls/],
    ['a right-to-left mark', 'Ann\u200f', 'InvalidNickname', /bidirectional controls/],
    ['a braille blank after', 'Ann\u2800', 'InvalidNickname', /blank symbols/],
    ['Cyrillic capital A', '\u0410nn', 'NicknameTaken', /looks the same/],
    ['Cyrillic small a', '\u0430nn', 'NicknameTaken', /looks the same/],
    ['Greek capital alpha', '\u0391nn', 'NicknameTaken', /looks the same/],
    ['fullwidth letters', 'Ａｎｎ', 'NicknameTaken', /looks the same/],
    ['other case', 'aNN', 'NicknameTaken', /looks the same/],
  ];
  test.each(lookAlikes)('while "Ann" is in the room, "Ann" with %s is refused', async (_label, nickname, code, message) => {
    for (const impostor of impostors) {
      const outcome = await attempt(impostor, 'names', nickname);
      expect(outcome.code).toBe(code);
      expect(outcome.message).toMatch(message);
    }
  });

  test('refused impostors left no trace: Ann heard none of them, and a prefix search for "ann" finds only Ann', async () => {
    // Their next join under a name of their own is the first member Ann hears of.
    for (const [i, impostor] of impostors.entries()) await impostor.join('names', `honest ${i}`);
    await ann.heardJoins(
      'names',
      impostors.map((c) => c.id),
    );
    // Ann may hear of her own join (README, Presence); of nobody else.
    const heard = ann.drain().filter((e) => e.type === 'memberJoined' && e.member.id !== ann.id);
    expect(heard).toEqual([]);
    for (const client of [ann, ...impostors]) expect(await membersByPrefix(client, 'names', 'ann')).toEqual([{ id: ann.id, name: 'Ann' }]);
    for (const impostor of impostors) await impostor.leave('names');
  });

  test('the first look-alike holds the name the other way round too, and frees it on leaving', async () => {
    const tom = await connect();
    const latin = await connect();
    // One on each node: the one that did not hold Tom hears the leave only from Redis,
    // after the leave script has freed the name there (a leave is answered before that).
    const witnesses = [await connect(), await connect()];
    for (const [i, witness] of witnesses.entries()) await witness.join('tom', `witness ${i}`);
    await tom.join('tom', '\u0422\u043em'); // Cyrillic Te and o
    // Heard in its own tick, so that the leave below is not coalesced away with it.
    for (const witness of witnesses) await witness.heardJoins('tom', [tom.id]);
    expect(await attempt(latin, 'tom', 'Tom')).toMatchObject({ code: 'NicknameTaken' });
    expect(await attempt(latin, 'tom', 'tom')).toMatchObject({ code: 'NicknameTaken' });
    await tom.leave('tom');
    for (const witness of witnesses) await witness.next('memberLeft', (e) => e.member.id === tom.id);
    expect((await latin.join('tom', 'Tom')).you.name).toBe('Tom');
  });

  test('names in other scripts, and emoji written with joiners and selectors, still join', async () => {
    const names = ['Zoë', '山田', 'محمد', 'Ölçek', 'Дмитрий', 'Łukasz', '김민준', 'Sam ❤️', '👩🏽‍💻', '🏳️‍🌈', 'Ann Lee', 'Anne'];
    const clients: TestClient[] = [];
    for (const name of names) {
      const client = await connect();
      expect((await client.join('names', name)).you.name).toBe(name);
      clients.push(client);
    }
    await ann.heardJoins(
      'names',
      clients.map((c) => c.id),
    );
    // A look-alike of an emoji name is a look-alike too: the selector draws nothing.
    expect(await attempt(impostors[0]!, 'names', 'Sam ❤')).toMatchObject({ code: 'NicknameTaken' });
    // Two spaces show as one.
    expect(await attempt(impostors[1]!, 'names', 'Ann  Lee')).toMatchObject({ code: 'NicknameTaken' });
    // A prefix search still finds names by their plain case fold.
    expect((await membersByPrefix(ann, 'names', 'ann')).map((m) => m.name)).toEqual(['Ann', 'Ann Lee', 'Anne']);
    for (const client of clients) await client.leave('names');
  });
});
