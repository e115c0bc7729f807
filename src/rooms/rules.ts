/**
 * What a room name, a nickname and a message text may be. Pure functions that
 * return either the accepted (normalized) value or a reason; the caller turns a
 * reason into an error frame.
 */
import { MAX_NICKNAME_CHARS, ROOM_NAME_PATTERN, type ErrorCodeName } from '../protocol/index.js';

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: ErrorCodeName; readonly message: string };

const fail = (code: ErrorCodeName, message: string): Checked<never> => ({ ok: false, code, message });

export function checkRoomName(room: string): Checked<string> {
  if (ROOM_NAME_PATTERN.test(room)) return { ok: true, value: room };
  return fail('InvalidRoomName', 'room names are 1-64 characters of letters, digits, "_", "-" and "."');
}

// Control characters and line/paragraph separators have no place in a name, and a
// name must show something (not only zero-width or format characters).
const NAME_FORBIDDEN = /[\p{Cc}\u2028\u2029]/u;
const NAME_VISIBLE = /[\p{L}\p{N}\p{S}\p{P}]/u;
// Bidirectional controls reorder what follows them: U+202E + "nnA" shows as "Ann".
const NAME_BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
// Default-ignorable code points draw nothing (zero-width space, joiners, word joiner, soft
// hyphen, variation selectors, tags, Hangul fillers), so they would let a name pass for another.
const NAME_IGNORABLE = /\p{Default_Ignorable_Code_Point}/u;
// ... except where an emoji is written with them: the emoji variation selector after a
// pictograph (or before a keycap), and the joiner between pictographs (skin tones included).
const EMOJI_GLUE =
  /(?<=\p{Extended_Pictographic})\ufe0f|\ufe0f(?=\u20e3)|(?<=\p{Extended_Pictographic}|\p{Emoji_Modifier}|\ufe0f)\u200d(?=\p{Extended_Pictographic})/gu;
// Symbols that draw as blank space (no category tells them apart from visible ones).
const NAME_BLANK = /[\u2800\u{1d159}]/u;

/**
 * Trims and NFC-normalizes a nickname; 1-32 characters, no control, bidirectional-control or
 * invisible characters, and something visible.
 */
export function checkNickname(nickname: string): Checked<string> {
  const name = nickname.trim().normalize('NFC');
  const length = countChars(name);
  if (length === 0 || length > MAX_NICKNAME_CHARS) return fail('InvalidNickname', `nicknames are 1-${MAX_NICKNAME_CHARS} characters after trimming`);
  if (NAME_FORBIDDEN.test(name)) return fail('InvalidNickname', 'nicknames may not contain control characters');
  if (NAME_BIDI.test(name)) return fail('InvalidNickname', 'nicknames may not contain bidirectional controls (U+061C, U+200E-F, U+202A-E, U+2066-9)');
  if (NAME_IGNORABLE.test(name.replace(EMOJI_GLUE, '')))
    return fail('InvalidNickname', 'nicknames may not contain invisible characters (zero-width, soft hyphen, variation selector, tag, filler)');
  if (NAME_BLANK.test(name)) return fail('InvalidNickname', 'nicknames may not contain blank symbols (U+2800, U+1D159)');
  if (!NAME_VISIBLE.test(name)) return fail('InvalidNickname', 'nicknames need at least one visible character');
  return { ok: true, value: name };
}

/**
 * A nickname's place in the member order and in prefix search: compatibility
 * normalized (fullwidth "ＡＮＮ" is "ANN") and case folded through upper case, so
 * that "ß" meets "SS" and final sigma meets sigma. Uniqueness goes further
 * (nicknameKeys in skeleton.ts: this key or the look-alike one); the web client mirrors this
 * function (foldName), so it stays free of tables.
 */
export function nicknameKey(name: string): string {
  return name.normalize('NFKC').toUpperCase().toLowerCase();
}

// Tabs and newlines are text; other control characters (C0, DEL and C1: U+009B is a
// terminal's CSI, U+0085 a line break) are not.
// biome-ignore lint/suspicious/noControlCharactersInRegex: this pattern exists to find control characters
const TEXT_FORBIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Accepts message text; CRLF and lone CR become LF (a bare CR could overwrite a line in a terminal). */
export function checkText(raw: string, maxChars: number): Checked<string> {
  const text = raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw;
  if (text.trim().length === 0) return fail('InvalidText', 'a message needs some text');
  if (countChars(text) > maxChars) return fail('InvalidText', `a message is at most ${maxChars} characters`);
  if (TEXT_FORBIDDEN.test(text)) return fail('InvalidText', 'a message may not contain control characters other than tab and newline');
  return { ok: true, value: text };
}

/** Unicode code points, so that an emoji counts as one character, not two UTF-16 units. */
export function countChars(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}
