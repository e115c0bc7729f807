/** DOM builders for the conversation, the member list, the tabs and the room list. User text is only ever text. */
import type { ChatMessage } from '../protocol/index.js';
import { h, replace } from './dom.js';
import { linkify } from './linkify.js';
import type { RoomState } from './rooms.js';

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** The text of a message with http(s) links as anchors that open in a new tab without an opener. */
export function messageText(text: string): HTMLElement {
  const p = h('p', { class: 'text' });
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
    label = h('span', { class: 'pm' }, mine ? `private to ${m.to.name}` : toMe ? 'private to you' : `private to ${m.to.name}`);
  }
  return h(
    'div',
    { class: classes, 'data-seq': m.seq || null },
    h(
      'div',
      { class: 'meta' },
      h('span', { class: 'who' }, mine ? `${m.sender.name} (you)` : m.sender.name),
      label,
      h('time', { datetime: when.toISOString(), title: fullFormat.format(when) }, timeFormat.format(when)),
    ),
    messageText(m.text),
  );
}

export function noticeNode(text: string, kind: 'info' | 'warn' | 'ok' = 'info'): HTMLElement {
  return h('p', { class: `notice ${kind}` }, text);
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
    item('', room.you.name, () => h('li', {}, h('span', { class: 'member me' }, `${room.you.name} (you)`)));
    for (const m of room.members.loaded) {
      if (room.myIds.has(m.id)) continue;
      const li = item(m.id, m.name, () =>
        h('li', {}, h('button', { type: 'button', class: 'member', 'data-id': m.id, title: `Write privately to ${m.name}` }, m.name)),
      );
      li.firstElementChild!.setAttribute('aria-pressed', String(room.to?.id === m.id));
    }
  }
  cache.clear();
  for (const [key, li] of seen) cache.set(key, li);
  const keep = new Set<Element>(items);
  for (const child of [...list.children]) if (!keep.has(child)) child.remove();
  let at = list.firstElementChild;
  for (const li of items) {
    if (li === at) at = at.nextElementSibling;
    else list.insertBefore(li, at);
  }
}

export function renderTabs(nav: HTMLElement, rooms: Iterable<RoomState>, current: string | null): void {
  const items: HTMLElement[] = [];
  for (const room of rooms) {
    const active = room.name === current;
    items.push(
      h(
        'div',
        { class: `tab${active ? ' active' : ''}${room.status !== 'joined' ? ' away' : ''}` },
        h(
          'button',
          { type: 'button', class: 'tab-open', 'data-room': room.name, 'aria-current': active ? 'true' : null },
          room.name,
          room.unread > 0 ? h('span', { class: 'badge' }, String(room.unread), h('span', { class: 'sr-only' }, ' unread')) : null,
        ),
        h('button', { type: 'button', class: 'tab-close', 'data-leave': room.name, 'aria-label': `Leave ${room.name}`, title: `Leave ${room.name}` }, '×'),
      ),
    );
  }
  replace(nav, ...items);
}

export interface RoomSummary {
  readonly name: string;
  readonly members: number;
}

/** The busiest rooms (the host lists a page of them); `total`: how many rooms the host has in all. */
export function renderRoomList(list: HTMLElement, rooms: readonly RoomSummary[], joined: ReadonlySet<string>, total = rooms.length): void {
  if (rooms.length === 0) {
    replace(list, h('li', { class: 'muted' }, 'No rooms yet. Type a name above to start one.'));
    return;
  }
  const more = total - rooms.length;
  replace(
    list,
    ...rooms.map((r) =>
      h(
        'li',
        {},
        h(
          'button',
          { type: 'button', class: `room-link${joined.has(r.name) ? ' in' : ''}`, 'data-room': r.name },
          h('span', { class: 'room-name' }, r.name),
          h('span', { class: 'count' }, people(r.members)),
        ),
      ),
    ),
    ...(more > 0 ? [h('li', { class: 'muted' }, `and ${more} more ${more === 1 ? 'room' : 'rooms'}: type a name above to join one`)] : []),
  );
}
