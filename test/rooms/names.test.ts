/**
 * Names people can trust (issue 13, item 5): invisible, direction-changing and blank
 * characters are refused in nicknames, C1 controls in text, and uniqueness compares
 * Unicode's confusable skeleton (TR39), so no one passes for another member.
 */
import { describe, expect, test } from 'vitest';
import { MemberSet } from '../../src/rooms/member-set.js';
import { checkNickname, checkText, nicknameKey } from '../../src/rooms/rules.js';
import { nicknameKeys, nicknameSkeleton } from '../../src/rooms/skeleton.js';

const hex = (cp: number): string => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;

describe('checkText refuses C1 controls', () => {
  const c1: [string, string][] = [];
  for (let c = 0x80; c <= 0x9f; c++) c1.push([hex(c), String.fromCharCode(c)]);

  test.each(c1)('%s is refused', (_label, ch) => {
    expect(checkText(`a${ch}b`, 2000)).toMatchObject({ ok: false, code: 'InvalidText', message: expect.stringMatching(/control characters/) });
  });

  test('U+009B (CSI) and U+0085 (NEL), the issue examples, at either end', () => {
    for (const text of ['\u009b31mred', 'red\u009b', '\u0085line', 'line\u0085'])
      expect(checkText(text, 2000)).toMatchObject({ ok: false, code: 'InvalidText' });
  });

  test('the characters around the C1 range are text', () => {
    for (const text of ['a\u00a0b', 'café \u00a1hola!', '\u00a0x', '\u00ff', '~']) expect(checkText(text, 2000)).toEqual({ ok: true, value: text });
  });
});

describe('checkNickname refuses what does not show, or changes what shows', () => {
  const refused = (name: string, message: RegExp): void => {
    const result = checkNickname(name);
    expect(result).toMatchObject({ ok: false, code: 'InvalidNickname' });
    if (!result.ok) expect(result.message).toMatch(message);
  };

  // Default-ignorable code points: each at the start, in the middle and at the end.
  const invisible: [string, string][] = [
    ['zero-width space U+200B', '\u200b'],
    ['zero-width non-joiner U+200C', '\u200c'],
    ['zero-width joiner U+200D', '\u200d'],
    ['word joiner U+2060', '\u2060'],
    ['invisible times U+2062', '\u2062'],
    ['soft hyphen U+00AD', '\u00ad'],
    ['combining grapheme joiner U+034F', '\u034f'],
    ['Mongolian vowel separator U+180E', '\u180e'],
    ['variation selector 1 U+FE00', '\ufe00'],
    ['variation selector 15 U+FE0E', '\ufe0e'],
    ['variation selector 16 U+FE0F', '\ufe0f'],
    ['variation selector 17 U+E0100', '\u{e0100}'],
    ['tag letter A U+E0041', '\u{e0041}'],
    ['cancel tag U+E007F', '\u{e007f}'],
    ['Hangul choseong filler U+115F', '\u115f'],
    ['Hangul jungseong filler U+1160', '\u1160'],
    ['Hangul filler U+3164', '\u3164'],
    ['halfwidth Hangul filler U+FFA0', '\uffa0'],
    ['Khmer inherent vowel U+17B4', '\u17b4'],
    ['musical symbol begin beam U+1D173', '\u{1d173}'],
  ];
  test.each(invisible)('%s is refused anywhere in a name', (_label, ch) => {
    for (const name of [`${ch}Ann`, `A${ch}nn`, `Ann${ch}`]) refused(name, /invisible characters/);
  });

  const bidi: [string, string][] = [
    ['left-to-right mark U+200E', '\u200e'],
    ['right-to-left mark U+200F', '\u200f'],
    ['Arabic letter mark U+061C', '\u061c'],
    ['LRE U+202A', '\u202a'],
    ['RLE U+202B', '\u202b'],
    ['PDF U+202C', '\u202c'],
    ['LRO U+202D', '\u202d'],
    ['RLO U+202E', '\u202e'],
    ['LRI U+2066', '\u2066'],
    ['RLI U+2067', '\u2067'],
    ['FSI U+2068', '\u2068'],
    ['PDI U+2069', '\u2069'],
  ];
  test.each(bidi)('%s is refused anywhere in a name', (_label, ch) => {
    for (const name of [`${ch}nnA`, `A${ch}nn`, `Ann${ch}`]) refused(name, /bidirectional controls/);
  });

  test('names that render blank are refused', () => {
    refused('\u2800', /blank symbols/);
    refused('\u2800\u2800\u2800', /blank symbols/);
    refused('Ann\u2800', /blank symbols/);
    refused('\u{1d159}', /blank symbols/);
    refused('\u3164', /invisible characters/);
    refused('\u115f\u1160', /invisible characters/);
    refused('\uffa0\uffa0', /invisible characters/);
    refused('\u0301\u0301', /visible character/); // combining marks with nothing to sit on
  });

  test('emoji keep the joiner and variation selector they are written with', () => {
    for (const name of ['❤️', 'Sam ❤️', '👩‍👩‍👧', '👩🏽‍💻', '🏳️‍🌈', '☀️ Sunny', '#️⃣1', '👍🏽']) expect(checkNickname(name)).toEqual({ ok: true, value: name });
  });

  test('but not around letters: a joiner or selector next to a letter is still refused', () => {
    for (const name of ['Ann\u200d😀', '😀\u200dAnn', 'Ann\ufe0f', '😀\u200d', '\u200d😀', '😀\ufe0e']) refused(name, /invisible characters/);
  });

  test('names in other scripts are still fine', () => {
    for (const name of ['Zoë', '山田', 'محمد', 'Ölçek', 'Łukasz', 'Ωmega', 'Дмитрий', 'יעל', 'ศรีสุข', '김민준', 'नमस्ते', 'Ann Lee']) {
      expect(checkNickname(name)).toEqual({ ok: true, value: name.normalize('NFC') });
    }
  });
});

describe('nicknameKeys: a name is taken when another holds either key', () => {
  const taken = (a: string, b: string): boolean => {
    const held = new Set(nicknameKeys(a));
    return nicknameKeys(b).some((key) => held.has(key));
  };
  const same = (a: string, b: string): void => {
    expect(taken(a, b), `${JSON.stringify(a)} then ${JSON.stringify(b)}`).toBe(true);
    expect(taken(b, a), `${JSON.stringify(b)} then ${JSON.stringify(a)}`).toBe(true);
  };
  const apart = (a: string, b: string): void => {
    expect(taken(a, b), `${JSON.stringify(a)} then ${JSON.stringify(b)}`).toBe(false);
    expect(taken(b, a), `${JSON.stringify(b)} then ${JSON.stringify(a)}`).toBe(false);
  };

  test('case and compatibility forms (the case-folded key)', () => {
    for (const [a, b] of [
      ['Ann', 'ann'],
      ['ANN', 'aNn'],
      ['ＡＮＮ', 'Ann'],
      ['ÉLODIE', 'élodie'],
      ['ΣΟΦΙΑ', 'σοφια'],
      ['Straße', 'STRASSE'],
      ['Ian', 'ian'],
    ] as const)
      same(a, b);
  });

  test('letters from other scripts that look Latin (the skeleton), capitals included', () => {
    same('\u0410nn', 'Ann'); // Cyrillic capital A
    same('\u0430nn', 'ann'); // Cyrillic small a
    same('\u0430nn', 'Ann'); // ... and a look-alike of another case is taken too
    same('\u0422\u043em', 'Tom'); // Cyrillic Te (whose small form looks like no Latin letter) and o
    same('\u041delen', 'Helen'); // Cyrillic En
    same('\u0412ob', 'Bob'); // Cyrillic Ve
    same('\u039dick', 'Nick'); // Greek Nu
    same('\u0397elen', 'Helen'); // Greek Eta
    same('\u0440\u0430ul', 'paul'); // Cyrillic er and a
    same('Ian', 'lan'); // capital i, small L
    same('Iisa', 'Lisa'); // looks like "lisa", another case of "Lisa"
    same('B0B', 'BOB'); // digit zero, letter O
    same('m', 'rn');
    same('\u0422\u041e\u041c', 'Tom'); // Cyrillic "ТОМ" looks like "TOM", another case of "Tom"
    same('\u0251nn', 'ann'); // Latin alpha
  });

  test('spaces: a run of them, or another kind, looks like one', () => {
    same('Ann  Lee', 'Ann Lee');
    same('Ann\u2003Lee', 'Ann Lee');
    same('Ann\u1680Lee', 'Ann Lee');
  });

  test('invisible characters drop out (an emoji with or without its selector)', () => {
    same('Ann❤️', 'Ann❤');
    same('😀\u200d😀', '😀😀');
    same('A\u200bnn', 'Ann');
  });

  test('names that look different stay apart', () => {
    apart('ann', 'anne');
    apart('ann', 'ann lee');
    apart('é', 'e');
    apart('Zoë', 'Zoe');
    apart('山田', '田山');
    apart('Ann', 'Bnn');
    apart('ian', 'lan');
    apart('Tom', 'TOM\u0301');
  });

  test('a key holds no control characters (the cluster stores it tab-separated)', () => {
    // The confusables table maps U+1F16D CIRCLED CC to a string with a tab in it.
    expect(checkNickname('\u{1f16d}').ok).toBe(true);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters
    expect(nicknameSkeleton('\u{1f16d}')).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  test('the member order and prefix search still use the plain case fold', () => {
    expect(nicknameKey('Ann').startsWith(nicknameKey('an'))).toBe(true);
    const members = new MemberSet();
    for (const [id, name] of [
      ['1', 'Ann'],
      ['2', 'anna'],
      ['3', 'Bob'],
      ['4', 'Тom'],
    ])
      members.add({ id: id!, name: name! });
    expect(members.page('', 'ann', 10).members.map((m) => m.name)).toEqual(['Ann', 'anna']);
    expect(members.page('', 'ANN', 10).members.map((m) => m.name)).toEqual(['Ann', 'anna']);
    expect(members.page('', '', 10).members.map((m) => m.name)).toEqual(['Ann', 'anna', 'Bob', 'Тom']);
  });

  test('MemberSet finds a nickname by its look-alikes, and forgets it when the member goes', () => {
    const members = new MemberSet();
    members.add({ id: 'a', name: 'Ann' });
    for (const name of ['ann', 'ANN', '\u0410nn', '\u0430nn', 'ＡＮＮ']) expect(members.hasNickname(name), name).toBe(true);
    members.add({ id: 't', name: '\u0422\u043em' });
    expect(members.hasNickname('Tom')).toBe(true);
    expect(members.hasNickname('tom')).toBe(true);
    expect(members.hasNickname('Anne')).toBe(false);
    members.remove('a');
    members.remove('t');
    expect(members.hasNickname('\u0410nn')).toBe(false);
    expect(members.hasNickname('Tom')).toBe(false);
  });
});
