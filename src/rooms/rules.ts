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

// Control characters and line/paragraph separators have no place in a name.
const NAME_FORBIDDEN = /[\p{Cc}\u2028\u2029]/u;

/** Trims and NFC-normalizes a nickname; 1-32 characters, no control characters. */
export function checkNickname(nickname: string): Checked<string> {
  const name = nickname.trim().normalize('NFC');
  const length = countChars(name);
  if (length === 0 || length > MAX_NICKNAME_CHARS) return fail('InvalidNickname', `nicknames are 1-${MAX_NICKNAME_CHARS} characters after trimming`);
  if (NAME_FORBIDDEN.test(name)) return fail('InvalidNickname', 'nicknames may not contain control characters');
  return { ok: true, value: name };
}

/** The form under which nicknames must be unique within a room. */
export function nicknameKey(name: string): string {
  return name.toLowerCase();
}

// Tabs and line breaks are text; other control characters are not.
const TEXT_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export function checkText(text: string, maxChars: number): Checked<string> {
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
