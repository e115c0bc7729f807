/**
 * Alerts for a person looking elsewhere: the unread count in the title and as a dot on the tab's
 * icon (the other rooms' unread messages, and those in the room on screen while the page is
 * hidden), and, opted into, desktop notifications for private messages and mentions of the
 * person's nickname that arrive while the page is hidden.
 */
import type { ChatMessage } from '../protocol/index.js';
import type { RoomState } from './rooms.js';

const NOTIFY_KEY = 'chat.notify';
const ICON = '/favicon.svg';
const ICON_UNREAD = '/favicon-unread.svg';
const BODY_CHARS = 160;

/** Whether `text` names `nickname` as a word of its own (any case). */
export function mentions(text: string, nickname: string): boolean {
  if (nickname === '') return false;
  const name = nickname.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![\\p{L}\\p{N}_])${name}(?![\\p{L}\\p{N}_])`, 'iu').test(text);
}

function supported(): boolean {
  return typeof Notification === 'function';
}

function stored(): boolean {
  try {
    return localStorage.getItem(NOTIFY_KEY) === '1';
  } catch {
    // Storage can be disabled: alerts are then off until turned on in this page.
    return false;
  }
}

function store(on: boolean): void {
  try {
    localStorage.setItem(NOTIFY_KEY, on ? '1' : '0');
  } catch {
    // Storage can be disabled: the choice then lasts as long as the page.
  }
}

export class Alerts {
  /** Messages that arrived in the room on screen while the page was hidden. */
  private hiddenUnread = 0;
  /** The other rooms' unread messages (their badges). */
  private otherUnread = 0;

  constructor(
    private readonly toggle: HTMLInputElement,
    private readonly note: HTMLElement,
    private readonly icon: HTMLLinkElement,
    /** Opens a room (a notification was clicked). */
    private readonly open: (room: string) => void,
  ) {
    const label = toggle.closest('label');
    if (label !== null) label.hidden = !supported();
    toggle.checked = supported() && stored() && Notification.permission === 'granted';
    toggle.addEventListener('change', () => void this.onToggle());
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) return;
      this.hiddenUnread = 0;
      this.show();
    });
  }

  /** A message shown in `room`, the room on screen or not. */
  message(m: ChatMessage, room: RoomState, current: boolean): void {
    if (room.isMine(m) || !document.hidden) return;
    if (current) {
      this.hiddenUnread += 1;
      this.show();
    }
    if (!this.toggle.checked || !supported() || Notification.permission !== 'granted') return;
    const toMe = m.to !== null && room.myIds.has(m.to.id);
    if (!toMe && !mentions(m.text, room.you.name)) return;
    const text = [...m.text];
    const body = text.length > BODY_CHARS ? `${text.slice(0, BODY_CHARS).join('')}…` : m.text;
    const title = toMe ? `${m.sender.name}, privately in ${room.name}` : `${m.sender.name} in ${room.name}`;
    const note = new Notification(title, { body, tag: `${room.name}\u0000${m.seq}`, icon: ICON });
    note.addEventListener('click', () => {
      window.focus();
      this.open(room.name);
      note.close();
    });
  }

  setOtherUnread(n: number): void {
    this.otherUnread = n;
    this.show();
  }

  private show(): void {
    const n = this.otherUnread + this.hiddenUnread;
    const title = n > 0 ? `(${n}) Chat` : 'Chat';
    if (document.title !== title) document.title = title;
    const href = n > 0 ? ICON_UNREAD : ICON;
    if (this.icon.getAttribute('href') !== href) this.icon.setAttribute('href', href);
  }

  private async onToggle(): Promise<void> {
    this.note.textContent = '';
    if (!this.toggle.checked) {
      store(false);
      return;
    }
    const permission = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
    if (permission !== 'granted') {
      this.toggle.checked = false;
      this.note.textContent = 'This browser blocks notifications from this page: allow them in its site settings first.';
    }
    store(this.toggle.checked);
  }
}
