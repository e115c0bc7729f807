/** DOM builders for the conversation, the member list, the tabs and the room list. User text is only ever text. */
import type { ChatMessage } from '../protocol/index.js';
import { h, reconcile, replace } from './dom.js';
import { linkify } from './linkify.js';
import type { RoomState } from './rooms.js';

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** The time of a message; with the date when it is not from today. */
export function shortTime(when: Date, now = new Date()): string {
  return when.toDateString() === now.toDateString() ? timeFormat.format(when) : dateTimeFormat.format(when);
}
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** The text of a message with http(s) links as anchors that open in a new tab without an opener. */
export function messageText(text: string): HTMLElement {
  // dir=auto: Arabic or Hebrew text reads right to left, whatever the page's direction.
  const p = h('p', { class: 'text', dir: 'auto' });
  for (const seg of linkify(text)) {
    p.appendChild(seg.kind === 'link' ? h('a', { href: seg.href, target: '_blank', rel: 'noopener noreferrer' }, seg.text) : document.createTextNode(seg.text));
  }
  return p;
}

export function messageNode(m: ChatMessage, room: RoomState): HTMLElement {
  const mine = room.isMine(m);
  const isPrivate = m.to !== null;
  const when = new Date(m.timestampMs);
  const classes = ['msg', mine ? 'own' : '', isPrivate ? 'private' : ''].filter(Boolean).join(' ');
  let label: HTMLElement | null = null;
  if (isPrivate && m.to !== null) {
    const toMe = room.myIds.has(m.to.id);
    label = h('span', { class: 'pm' }, 'private to ', toMe && !mine ? 'you' : h('bdi', {}, m.to.name));
  }
  return h(
    'div',
    { class: classes, 'data-seq': m.seq || null },
    h(
      'div',
      { class: 'meta' },
      h('span', { class: 'who' }, h('bdi', {}, m.sender.name), mine ? ' (you)' : null),
      label,
      h('time', { datetime: when.toISOString(), title: fullFormat.format(when) }, shortTime(when)),
    ),
    messageText(m.text),
  );
}

export function noticeNode(text: string, kind: 'info' | 'warn' | 'ok' = 'info'): HTMLElement {
  return h('p', { class: `notice ${kind}` }, text);
}

/** A notice about someone ("bob joined"): the nickname is isolated, so a right-to-left one does not reorder the words. */
export function personNotice(name: string, rest: string): HTMLElement {
  return h('p', { class: 'notice info' }, h('bdi', {}, name), rest);
}

export function gapNode(text: string): HTMLElement {
  return h('div', { class: 'gap', role: 'separator' }, h('span', {}, text));
}

/** "1 person", "5001 people". */
export function people(n: number): string {
  return `${n} ${n === 1 ? 'person' : 'people'}`;
}

/**
 * Renders the loaded members, me first. `cache` keeps each id's node between renders, and nodes
 * that stay are not moved: a Presence or one more page touches only what changed, and a focused
 * member keeps the focus.
 */
export function renderMembers(list: HTMLElement, room: RoomState | null, cache: Map<string, HTMLLIElement>): void {
  const items: HTMLLIElement[] = [];
  const seen = new Map<string, HTMLLIElement>();
  const item = (key: string, name: string, make: () => HTMLLIElement): HTMLLIElement => {
    let li = cache.get(key);
    if (li === undefined || li.dataset.name !== name) li = make();
    li.dataset.name = name;
    seen.set(key, li);
    items.push(li);
    return li;
  };
  if (room !== null) {
    item('', room.you.name, () => h('li', {}, h('span', { class: 'member me' }, h('bdi', {}, room.you.name), ' (you)')));
    for (const m of room.members.loaded) {
      if (room.myIds.has(m.id)) continue;
      const li = item(m.id, m.name, () =>
        h('li', {}, h('button', { type: 'button', class: 'member', 'data-id': m.id, title: `Write privately to ${m.name}`, dir: 'auto' }, m.name)),
      );
      li.firstElementChild!.setAttribute('aria-pressed', String(room.to?.id === m.id));
    }
  }
  cache.clear();
  for (const [key, li] of seen) cache.set(key, li);
  reconcile(list, items);
}

/** The open rooms as tabs, each kept by name between renders (the focus stays on a tab that stays). */
export function renderTabs(nav: HTMLElement, rooms: Iterable<RoomState>, current: string | null, cache: Map<string, HTMLElement>): void {
  const items: HTMLElement[] = [];
  const seen = new Map<string, HTMLElement>();
  for (const room of rooms) {
    const active = room.name === current;
    const tab =
      cache.get(room.name) ??
      h(
        'div',
        {},
        h('button', { type: 'button', class: 'tab-open', 'data-room': room.name, title: room.name }),
        h('button', { type: 'button', class: 'tab-close', 'data-leave': room.name, 'aria-label': `Leave ${room.name}`, title: `Leave ${room.name}` }, '×'),
      );
    tab.className = `tab${active ? ' active' : ''}${room.status !== 'joined' ? ' away' : ''}`;
    const open = tab.firstElementChild as HTMLButtonElement;
    if (active) open.setAttribute('aria-current', 'true');
    else open.removeAttribute('aria-current');
    const unread = room.unread > 0 ? String(room.unread) : '';
    if (open.dataset.unread !== unread || open.childNodes.length === 0) {
      open.dataset.unread = unread;
      replace(
        open,
        h('span', { class: 'tab-name', dir: 'auto' }, room.name),
        unread !== '' ? h('span', { class: 'badge' }, unread, h('span', { class: 'sr-only' }, ' unread')) : null,
      );
    }
    seen.set(room.name, tab);
    items.push(tab);
  }
  cache.clear();
  for (const [key, tab] of seen) cache.set(key, tab);
  reconcile(nav, items);
}

export interface RoomSummary {
  readonly name: string;
  readonly members: number;
}

/**
 * The busiest rooms (the host lists a page of them); `total`: how many rooms the host has in all.
 * Each room's item is kept by name between the refreshes (every few seconds): a focused one keeps the focus.
 */
export function renderRoomList(
  list: HTMLElement,
  rooms: readonly RoomSummary[],
  joined: ReadonlySet<string>,
  total: number,
  cache: Map<string, HTMLLIElement>,
): void {
  const items: HTMLLIElement[] = [];
  const seen = new Map<string, HTMLLIElement>();
  for (const r of rooms) {
    const li =
      cache.get(r.name) ??
      h(
        'li',
        {},
        h(
          'button',
          { type: 'button', 'data-room': r.name, title: r.name },
          h('span', { class: 'room-name', dir: 'auto' }, r.name),
          h('span', { class: 'count' }),
        ),
      );
    const button = li.firstElementChild as HTMLButtonElement;
    button.className = `room-link${joined.has(r.name) ? ' in' : ''}`;
    const count = button.lastElementChild!;
    const words = people(r.members);
    if (count.textContent !== words) count.textContent = words;
    seen.set(r.name, li);
    items.push(li);
  }
  cache.clear();
  for (const [key, li] of seen) cache.set(key, li);
  const more = total - rooms.length;
  if (rooms.length === 0) items.push(h('li', { class: 'muted' }, 'No rooms yet. Type a name above to start one.'));
  else if (more > 0) items.push(h('li', { class: 'muted' }, `and ${more} more ${more === 1 ? 'room' : 'rooms'}: type a name above to join one`));
  reconcile(list, items);
}
