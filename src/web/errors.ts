/** Host error codes in plain words, for the person at the keyboard. */
import type { ErrorCodeName } from '../protocol/index.js';

export function plainError(code: ErrorCodeName, context: { room?: string | null; maxTextChars?: number } = {}): string {
  const room = context.room ? `“${context.room}”` : 'this room';
  switch (code) {
    case 'InvalidRoomName':
      return 'That room name is not allowed. Use 1 to 64 letters, digits, dots, dashes or underscores, without spaces.';
    case 'InvalidNickname':
      return 'That nickname is not allowed. Use 1 to 32 characters that show, without control, invisible or direction-changing characters.';
    case 'NicknameTaken':
      return `Someone in ${room} already uses that nickname. Please pick another one.`;
    case 'AlreadyJoined':
      return `You are already in ${room}.`;
    case 'TooManyRooms':
      return 'You are in as many rooms as the host allows. Leave one before joining another.';
    case 'NotJoined':
      return `You are not in ${room} any more. Join it again to send messages there.`;
    case 'InvalidText':
      return `That message cannot be sent: it is empty, only spaces, longer than ${context.maxTextChars ?? 2000} characters, or has control characters.`;
    case 'RecipientNotFound':
      return 'That person is not in the room any more, so the private message was not sent.';
    case 'RateLimited':
      return 'You are sending too fast. Wait a moment and try again.';
    case 'Unavailable':
      return 'The host is busy right now. Try again in a moment.';
    case 'Internal':
      return 'Something went wrong on the host. Try again.';
    case 'JoinCancelled':
      return `You left ${room} before joining it completed.`;
    case 'RoomLimit':
      return 'The host has as many rooms as it allows. Join an existing room, or try again later.';
    case 'NicknameLost':
      return `Someone else took your nickname in ${room} while the host was cut off from its cluster, so you are no longer in it. Choose another nickname and join again.`;
    case 'UnsupportedVersion':
      return 'This page is out of date: reload it.';
    case 'Unauthorized':
      return `Your access token does not allow you into ${room} under that nickname (or it has expired).`;
    default:
      return `The host refused that (${String(code)}).`;
  }
}
