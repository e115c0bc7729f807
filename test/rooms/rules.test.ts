/** The pure input rules: room names, nicknames, message texts and character counting. */
import { describe, expect, test } from 'vitest';
import { checkNickname, checkRoomName, checkText, countChars, nicknameKey } from '../../src/rooms/rules.js';

const okValue = <T>(result: { ok: true; value: T } | { ok: false }): T => {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.value;
};

describe('checkRoomName', () => {
  test.each([['a'], ['Z'], ['0'], ['lobby'], ['general-2024_v1.0'], ['...'], ['-_-'], ['x'.repeat(64)], ['AZaz09_.-'.repeat(7).slice(0, 64)]])(
    'accepts %j unchanged',
    (name) => {
      expect(checkRoomName(name)).toEqual({ ok: true, value: name });
    },
  );

  test.each([
    ['', 'empty'],
    ['x'.repeat(65), '65 characters'],
    ['my room', 'a space'],
    [' lobby', 'a leading space'],
    ['lobby ', 'a trailing space'],
    ['a/b', 'a slash'],
    ['a+', 'an MQTT single-level wildcard'],
    ['#', 'an MQTT multi-level wildcard'],
    ['a#b', 'a hash inside'],
    ['café', 'a non-ASCII letter'],
    ['ｌｏｂｂｙ', 'fullwidth letters'],
    ['room\n', 'a trailing newline'],
    ['room\u0000', 'a NUL'],
    ['😀', 'an emoji'],
    ['a*b', 'a star'],
  ])('refuses %j (%s) with InvalidRoomName', (name) => {
    const result = checkRoomName(name);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe('InvalidRoomName');
      expect(result.message.length).toBeGreaterThan(0);
    }
  });
});

describe('checkNickname', () => {
  test('trims surrounding whitespace', () => {
    expect(checkNickname('  ann  ')).toEqual({ ok: true, value: 'ann' });
    expect(checkNickname('\tbob\n')).toEqual({ ok: true, value: 'bob' });
    expect(checkNickname('\u00a0cat\u3000')).toEqual({ ok: true, value: 'cat' });
  });

  test('keeps inner spaces', () => {
    expect(checkNickname(' Ann Lee ')).toEqual({ ok: true, value: 'Ann Lee' });
  });

  test('NFC-normalizes: e + combining acute becomes é', () => {
    const value = okValue(checkNickname('Re\u0301my'));
    expect(value).toBe('R\u00e9my');
    expect(value).toHaveLength(4);
    // Both spellings end up as the same stored name.
    expect(okValue(checkNickname('R\u00e9my'))).toBe(value);
  });

  test('counts code points after normalization: 32 combining sequences that compose are fine', () => {
    // 32 × (e + U+0301) is 64 code points before NFC and 32 after.
    expect(okValue(checkNickname('e\u0301'.repeat(32)))).toBe('\u00e9'.repeat(32));
  });

  test('32 code points are fine, including astral emoji (2 UTF-16 units each)', () => {
    expect(okValue(checkNickname('a'.repeat(32)))).toBe('a'.repeat(32));
    const emoji = '😀'.repeat(32);
    expect(emoji).toHaveLength(64);
    expect(okValue(checkNickname(emoji))).toBe(emoji);
    const mixed = 'ab' + '🎉'.repeat(30);
    expect(okValue(checkNickname(mixed))).toBe(mixed);
  });

  test('33 code points are refused', () => {
    for (const name of ['a'.repeat(33), '😀'.repeat(33), 'a' + '😀'.repeat(32)]) {
      const result = checkNickname(name);
      expect(result).toMatchObject({ ok: false, code: 'InvalidNickname' });
    }
  });

  test('length is measured after trimming: 32 characters with padding are fine', () => {
    expect(okValue(checkNickname(`   ${'n'.repeat(32)}   `))).toBe('n'.repeat(32));
  });

  test.each([[''], [' '], ['   '], ['\t\n'], ['\u00a0\u2003'], ['\u3000']])('whitespace-only %j is refused', (name) => {
    expect(checkNickname(name)).toMatchObject({ ok: false, code: 'InvalidNickname' });
  });

  const controls: [string, string][] = [];
  for (let c = 0; c <= 0x1f; c++) controls.push([`U+${c.toString(16).padStart(4, '0')}`, String.fromCharCode(c)]);
  controls.push(['U+007F', '\u007f'], ['U+0085', '\u0085'], ['U+2028', '\u2028'], ['U+2029', '\u2029']);

  test.each(controls)('a %s inside the name is refused', (_label, ch) => {
    expect(checkNickname(`an${ch}n`)).toMatchObject({ ok: false, code: 'InvalidNickname' });
  });

  test.each([
    ['U+0000', '\u0000'],
    ['U+001B', '\u001b'],
    ['U+007F', '\u007f'],
    ['U+0085', '\u0085'],
  ])('a %s at the edge is not trimmed away and is refused', (_label, ch) => {
    expect(checkNickname(`${ch}ann`)).toMatchObject({ ok: false, code: 'InvalidNickname' });
    expect(checkNickname(`ann${ch}`)).toMatchObject({ ok: false, code: 'InvalidNickname' });
  });

  test('non-ASCII letters and punctuation are fine', () => {
    for (const name of ['Zoë', 'Łukasz', '山田', 'Ωmega', 'a.b-c_d', 'x@y!']) expect(okValue(checkNickname(name))).toBe(name);
  });
});

describe('nicknameKey', () => {
  test('folds case so that names differing only in case collide', () => {
    expect(nicknameKey('Ann')).toBe(nicknameKey('ann'));
    expect(nicknameKey('ANN')).toBe(nicknameKey('aNn'));
    expect(nicknameKey('ÉLODIE')).toBe(nicknameKey('élodie'));
    expect(nicknameKey('ΣΟΦΙΑ')).toBe(nicknameKey('σοφια'));
  });

  test('keeps names that differ in more than case apart', () => {
    expect(nicknameKey('ann')).not.toBe(nicknameKey('anne'));
    expect(nicknameKey('ann')).not.toBe(nicknameKey('ann '));
    expect(nicknameKey('é')).not.toBe(nicknameKey('e'));
  });
});

describe('checkText', () => {
  test('ordinary text comes back unchanged (not trimmed, not normalized)', () => {
    expect(checkText('hello', 2000)).toEqual({ ok: true, value: 'hello' });
    expect(checkText('  padded  ', 2000)).toEqual({ ok: true, value: '  padded  ' });
    expect(checkText('e\u0301', 2000)).toEqual({ ok: true, value: 'e\u0301' });
  });

  test.each([[''], [' '], ['   '], ['\n'], ['\t \r\n'], ['\u00a0\u2003']])('empty or whitespace-only %j is refused', (text) => {
    expect(checkText(text, 2000)).toMatchObject({ ok: false, code: 'InvalidText' });
  });

  test('2000 code points are fine, also when they are astral emoji', () => {
    expect(okValue(checkText('x'.repeat(2000), 2000))).toHaveLength(2000);
    const emoji = '😀'.repeat(2000);
    expect(okValue(checkText(emoji, 2000))).toBe(emoji);
  });

  test('2001 code points are refused', () => {
    expect(checkText('x'.repeat(2001), 2000)).toMatchObject({ ok: false, code: 'InvalidText' });
    expect(checkText('😀'.repeat(2001), 2000)).toMatchObject({ ok: false, code: 'InvalidText' });
    expect(checkText('x' + '😀'.repeat(2000), 2000)).toMatchObject({ ok: false, code: 'InvalidText' });
  });

  test('the limit is the maxChars argument', () => {
    expect(checkText('abc', 3)).toEqual({ ok: true, value: 'abc' });
    expect(checkText('abcd', 3)).toMatchObject({ ok: false, code: 'InvalidText' });
  });

  test('tab and newline are text', () => {
    expect(checkText('a\tb', 2000)).toEqual({ ok: true, value: 'a\tb' });
    expect(checkText('line 1\nline 2', 2000)).toEqual({ ok: true, value: 'line 1\nline 2' });
    expect(checkText('\tindented\n\n\tlines\n', 2000)).toEqual({ ok: true, value: '\tindented\n\n\tlines\n' });
  });

  // A bare CR could overwrite a line in a terminal: CRLF and lone CR become LF.
  test('carriage returns become newlines', () => {
    expect(checkText('safe\rEVIL', 2000)).toEqual({ ok: true, value: 'safe\nEVIL' });
    expect(checkText('one\r\ntwo\r\n', 2000)).toEqual({ ok: true, value: 'one\ntwo\n' });
  });

  const forbidden: [string, string][] = [];
  for (let c = 0; c <= 0x1f; c++) {
    if (c === 0x09 || c === 0x0a || c === 0x0d) continue; // U+000D: becomes a newline (above)
    forbidden.push([`U+${c.toString(16).padStart(4, '0')}`, String.fromCharCode(c)]);
  }
  forbidden.push(['U+007F', '\u007f']);

  test.each(forbidden)('%s is refused', (_label, ch) => {
    expect(checkText(`a${ch}b`, 2000)).toMatchObject({ ok: false, code: 'InvalidText' });
  });
});

describe('countChars', () => {
  test('counts code points, not UTF-16 units', () => {
    expect(countChars('')).toBe(0);
    expect(countChars('abc')).toBe(3);
    expect(countChars('é')).toBe(1);
    expect(countChars('e\u0301')).toBe(2);
    expect(countChars('😀')).toBe(1);
    expect(countChars('a😀b')).toBe(3);
    expect(countChars('😀😀😀')).toBe(3);
    expect(countChars('👩‍👩‍👧')).toBe(5); // three emoji joined by two ZWJs
  });

  test('agrees with the string iterator on well-formed text', () => {
    for (const s of ['', 'plain', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', 'mixé 😀 中文 🇫🇷']) expect(countChars(s)).toBe([...s].length);
  });

  test('a lone surrogate counts as one character', () => {
    expect(countChars('\ud83d')).toBe(1); // high surrogate at the end
    expect(countChars('\ude00')).toBe(1); // low surrogate alone
    expect(countChars('a\ud83db')).toBe(3); // high surrogate followed by a non-surrogate
    expect(countChars('\ude00\ud83d')).toBe(2); // reversed pair: two lone surrogates
    expect(countChars('\ud83d\ud83d\ude00')).toBe(2); // lone high, then a real pair
    expect(countChars('\ud83d\ude00\ude00')).toBe(2); // a real pair, then a lone low
  });
});
