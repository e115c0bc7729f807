/**
 * What one stdin line of the terminal client means. Pure, so the rules are tested
 * without a host. A line whose first non-blank character is `/` is a command; one
 * that is not a known command, or lacks what the command needs, is an error and is
 * never said to the room (a mistyped `/To ID secret` must not go to everyone).
 */

export type Command =
  | { readonly kind: 'say'; readonly text: string; readonly to: string | null }
  | { readonly kind: 'join'; readonly room: string }
  | { readonly kind: 'leave'; readonly room: string }
  | { readonly kind: 'members'; readonly prefix: string }
  | { readonly kind: 'more' }
  /** A blank line: nothing to do. */
  | { readonly kind: 'blank' }
  | { readonly kind: 'invalid'; readonly message: string };

export const COMMANDS_HELP = [
  '  TEXT                say TEXT to the room',
  '  /to ID TEXT         say TEXT privately to the member with that id',
  '  /join ROOM          join another room',
  '  /leave ROOM         leave a room',
  '  /members [PREFIX]   the first page of the room members whose names start with PREFIX',
  '  /more               the next page of members',
  '  //TEXT              say /TEXT to the room (a text that starts with /)',
].join('\n');

const KNOWN = '/to ID TEXT, /join ROOM, /leave ROOM, /members [PREFIX], /more (and //TEXT for a text starting with /)';

export function parseLine(line: string): Command {
  const trimmed = line.trimStart();
  if (trimmed === '') return { kind: 'blank' };
  if (!trimmed.startsWith('/')) return { kind: 'say', text: line, to: null };
  if (trimmed.startsWith('//')) return { kind: 'say', text: trimmed.slice(1), to: null };
  const [, name = '', rest = ''] = /^\/(\S*)\s*([\s\S]*)$/.exec(trimmed) ?? [];
  switch (name) {
    case 'to': {
      // The text is kept as typed after the space that ends the id.
      const to = /^(\S+)\s([\s\S]*)$/.exec(rest);
      if (!to || to[2]!.trim() === '') return { kind: 'invalid', message: '/to needs a member id and a text: /to ID TEXT' };
      return { kind: 'say', text: to[2]!, to: to[1]! };
    }
    case 'join':
    case 'leave': {
      // The whole rest of the line is the room, so that a bad name gets the host's error.
      const room = rest.trimEnd();
      if (room === '') return { kind: 'invalid', message: `/${name} needs a room: /${name} ROOM` };
      return { kind: name, room };
    }
    case 'members':
      return { kind: 'members', prefix: rest.trimEnd() };
    case 'more':
      if (rest.trim() !== '') return { kind: 'invalid', message: '/more takes nothing after it' };
      return { kind: 'more' };
    default:
      return { kind: 'invalid', message: `unknown command /${name}; the commands are ${KNOWN}` };
  }
}
