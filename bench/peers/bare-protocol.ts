/**
 * The protocol of the bare peers (uws-bare, ws): as little as a room chat needs.
 *   join:  'J' + room (UTF-8)                    -> the server answers 'j' + room
 *   say:   'S' + u8 room length + room + text    -> the server sends these same bytes to every member
 * Binary frames only. The server does no validation: this is the ceiling, not a product.
 */
export const JOIN = 0x4a; // 'J'
export const JOINED = 0x6a; // 'j'
export const SAY = 0x53; // 'S'

export function joinFrame(room: string): Uint8Array {
  return Buffer.concat([Buffer.of(JOIN), Buffer.from(room)]);
}

export function sayFrame(room: string, text: string): Uint8Array {
  const r = Buffer.from(room);
  return Buffer.concat([Buffer.of(SAY, r.length), r, Buffer.from(text)]);
}

/** The room name of a say frame. */
export function sayRoom(frame: Uint8Array): Uint8Array {
  return frame.subarray(2, 2 + frame[1]!);
}

/** Reads `--port N` (default 0) from argv. */
export function portArg(argv: readonly string[]): number {
  const i = argv.indexOf('--port');
  return i >= 0 ? Number(argv[i + 1]) : 0;
}
