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

/** Trims and NFC-normalizes a nickname; 1-32 characters, no control characters. */
export function checkNickname(nickname: string): Checked<string> {
  const name = nickname.trim().normalize('NFC');
  const length = countChars(name);
  if (length === 0 || length > MAX_NICKNAME_CHARS) return fail('InvalidNickname', `nicknames are 1-${MAX_NICKNAME_CHARS} characters after trimming`);
  if (NAME_FORBIDDEN.test(name)) return fail('InvalidNickname', 'nicknames may not contain control characters');
  if (!NAME_VISIBLE.test(name)) return fail('InvalidNickname', 'nicknames need at least one visible character');
  return { ok: true, value: name };
}

/**
 * The form under which nicknames must be unique within a room: compatibility
 * normalized (fullwidth "ＡＮＮ" is "ANN") and case folded through upper case, so
 * that "ß" meets "SS" and final sigma meets sigma.
 */
export function nicknameKey(name: string): string {
  return name.normalize('NFKC').toUpperCase().toLowerCase();
}

// Tabs and newlines are text; other control characters are not.
// biome-ignore lint/suspicious/noControlCharactersInRegex: this pattern exists to find control characters
const TEXT_FORBIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f]/;

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
