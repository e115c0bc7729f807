/** DOM builders for the conversation, the member list, the tabs and the room list. User text is only ever text. */
import type { ChatMessage, MemberInfo } from '../protocol/index.js';
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

export function renderMembers(list: HTMLElement, room: RoomState | null): void {
  if (room === null) {
    replace(list);
    return;
  }
  const members = [...room.members.values()];
  members.sort((a, b) => Number(b.id === room.you.id) - Number(a.id === room.you.id) || a.name.localeCompare(b.name));
  replace(
    list,
    ...members.map((m: MemberInfo) =>
      h(
        'li',
        {},
        m.id === room.you.id
          ? h('span', { class: 'member me' }, `${m.name} (you)`)
          : h(
              'button',
              { type: 'button', class: 'member', 'data-id': m.id, 'aria-pressed': room.to === m.id ? 'true' : 'false', title: `Write privately to ${m.name}` },
              m.name,
            ),
      ),
    ),
  );
}

export function renderRecipients(select: HTMLSelectElement, room: RoomState | null): void {
  const others = room === null ? [] : [...room.members.values()].filter((m) => m.id !== room.you.id).sort((a, b) => a.name.localeCompare(b.name));
  replace(select, h('option', { value: '' }, 'Everyone'), ...others.map((m) => h('option', { value: m.id }, `${m.name} (private)`)));
  select.value = room?.to ?? '';
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

export function renderRoomList(list: HTMLElement, rooms: readonly RoomSummary[], joined: ReadonlySet<string>): void {
  if (rooms.length === 0) {
    replace(list, h('li', { class: 'muted' }, 'No rooms yet. Type a name above to start one.'));
    return;
  }
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
          h('span', { class: 'count' }, `${r.members} ${r.members === 1 ? 'person' : 'people'}`),
        ),
      ),
    ),
  );
}
