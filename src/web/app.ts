/**
 * The controller: turns host events into room state and DOM updates, and form input into requests.
 */
import {
  CloseCode,
  MAX_TEXT_CHARS,
  MEMBER_PAGE_SIZE,
  PROTOCOL_VERSION,
  ROOM_NAME_PATTERN,
  type ErrorCodeName,
  type JoinedInfo,
  type MemberInfo,
  type MemberPageInfo,
  type PresenceInfo,
  type ServerEvent,
} from '../protocol/index.js';
import { Alerts } from './alerts.js';
import { Connection, describeClose, type ConnectionState } from './connection.js';
import { byId, h } from './dom.js';
import { plainError } from './errors.js';
import { EmojiPicker } from './picker.js';
import { RecipientPicker } from './recipient.js';
import { applyRejoin, rejoinRetryDelay, RoomState } from './rooms.js';
import { gapNode, messageNode, noticeNode, people, personNotice, renderMembers, renderRoomList, renderTabs, type RoomSummary } from './view.js';

const NICKNAME_KEY = 'chat.nickname';
const ROOM_LIST_EVERY_MS = 5000;
/** The connection status through a whole outage. */
const OFFLINE = 'Offline: reconnecting by itself…';
/** The busiest rooms the list shows (the host has a page limit of its own). */
const ROOM_LIST_LIMIT = 50;
/** Conversation nodes kept per room; older ones are dropped from the page. */
const MAX_LOG_NODES = 1000;
/** Load the next page of members when the list is scrolled this close to its end (px). */
const MORE_MEMBERS_MARGIN = 200;

type Pending =
  /** `queued`: asked for while offline, sent once connected (the person may be busy in another room by then). */
  | { readonly kind: 'join'; readonly room: string; readonly nickname: string; readonly rejoin: boolean; readonly queued?: boolean }
  | { readonly kind: 'say'; readonly room: string; readonly text: string; readonly to: string | null }
  | { readonly kind: 'leave'; readonly room: string }
  /** A member page: the next one ('more'), the first again ('refresh'), or a "To" search. */
  | { readonly kind: 'members'; readonly room: string; readonly purpose: 'more' | 'refresh' | 'search'; readonly prefix: string };

function storedNickname(): string {
  try {
    return localStorage.getItem(NICKNAME_KEY) ?? '';
  } catch {
    return '';
  }
}

function storeNickname(name: string): void {
  try {
    localStorage.setItem(NICKNAME_KEY, name);
  } catch {
    // Storage can be disabled (private mode, policies); the nickname is then simply not remembered.
  }
}

export class App {
  private readonly rooms = new Map<string, RoomState>();
  private readonly logs = new Map<string, HTMLElement>();
  private readonly scrollTops = new Map<string, number>();
  /** Each room's "new messages" divider: before the first message that arrived while the person was elsewhere. */
  private readonly dividers = new Map<string, HTMLElement>();
  private readonly pending = new Map<number, Pending>();
  /** Joins asked for while not connected; sent after the next welcome. */
  private queued: { room: string; nickname: string }[] = [];
  private current: string | null = null;
  private maxTextChars = MAX_TEXT_CHARS;
  /** The host's idle timeout (Welcome): how long a rejoin refused NicknameTaken is retried depends on it. */
  private idleTimeoutMs = 120_000;
  private roomList: RoomSummary[] = [];
  private roomTotal = 0;
  private countdown: ReturnType<typeof setInterval> | null = null;
  /** What the composer's error is about (see showSayError). */
  private sayErrorAbout: 'text' | 'connection' | 'other' = 'other';
  private listTimer: ReturnType<typeof setTimeout> | null = null;
  /** The member list's nodes by id, for the room on screen. */
  private readonly memberNodes = new Map<string, HTMLLIElement>();
  /** The tabs and the room list's items by room name, kept between renders (so is the focus). */
  private readonly tabNodes = new Map<string, HTMLElement>();
  private readonly roomListNodes = new Map<string, HTMLLIElement>();
  /** Focus the first member of the next page when it arrives (it was asked for with the keyboard). */
  private focusNewMembers = false;
  private readonly conn: Connection;
  private readonly picker: RecipientPicker;
  private readonly alerts: Alerts;

  private readonly el = {
    app: byId('app'),
    joinToggle: byId<HTMLButtonElement>('join-toggle'),
    roomsToggle: byId<HTMLButtonElement>('rooms-toggle'),
    membersToggle: byId<HTMLButtonElement>('members-toggle'),
    roomsPane: byId('rooms-pane'),
    membersPane: byId('members-pane'),
    conn: byId('conn'),
    connText: byId('conn-text'),
    connDetail: byId('conn-detail'),
    retry: byId<HTMLButtonElement>('retry'),
    joinForm: byId<HTMLFormElement>('join-form'),
    nickname: byId<HTMLInputElement>('nickname'),
    room: byId<HTMLInputElement>('room'),
    joinButton: byId<HTMLButtonElement>('join'),
    joinError: byId('join-error'),
    roomList: byId('room-list'),
    tabs: byId('tabs'),
    log: byId('log'),
    empty: byId('empty'),
    jump: byId<HTMLButtonElement>('jump'),
    composer: byId<HTMLFormElement>('composer'),
    to: byId<HTMLInputElement>('to'),
    toEveryone: byId<HTMLButtonElement>('to-everyone'),
    message: byId<HTMLTextAreaElement>('message'),
    audience: byId('audience'),
    emojiPanel: byId('emoji-panel'),
    sayError: byId('say-error'),
    members: byId('members'),
    memberScroll: byId('member-scroll'),
    memberCount: byId('member-count'),
    moreMembers: byId<HTMLButtonElement>('members-more'),
    refreshMembers: byId<HTMLButtonElement>('members-refresh'),
    membersNote: byId('members-note'),
    chatTitle: byId('chat-title'),
  };

  /** An access token for hosts that require one, from the page address: /#token=... (a fragment never reaches server logs). */
  private token = tokenFromAddress();

  constructor() {
    const url = new URL('/ws', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    this.conn = new Connection(url.href, {
      onEvent: (e) => this.onEvent(e),
      onState: (s) => this.showConnection(s),
      onLost: (code) => this.onLost(code),
    });
    this.picker = new RecipientPicker(this.el.to, byId('to-popup'), byId('to-list'), byId('to-status'), {
      local: (prefix) => {
        const room = this.currentRoom();
        if (room === null) return { members: [], all: true };
        const list = room.members;
        const found = list.search(prefix, MEMBER_PAGE_SIZE + 1).filter((m) => !room.myIds.has(m.id));
        // With no prefix the loaded list's start is the host's first page: nothing to ask.
        const all = prefix === '' || (list.complete && !list.stale && found.length <= MEMBER_PAGE_SIZE);
        return { members: found.slice(0, MEMBER_PAGE_SIZE), all };
      },
      ask: (prefix) => {
        const room = this.currentRoom();
        return room !== null && this.requestMembers(room, 'search', '', prefix) !== null;
      },
      choose: (member, focus) => {
        this.setRecipient(member);
        if (focus) this.el.message.focus();
      },
    });
    this.alerts = new Alerts(byId<HTMLInputElement>('notify'), byId('notify-note'), byId<HTMLLinkElement>('favicon'), (room) => this.switchTo(room));
  }

  start(): void {
    const el = this.el;
    el.nickname.value = storedNickname();
    el.joinForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.join(el.room.value);
    });
    el.composer.addEventListener('submit', (e) => {
      e.preventDefault();
      this.say();
    });
    el.message.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.say();
      } else if (e.key === 'Escape' && el.emojiPanel.hidden && this.currentRoom()?.toName != null) {
        // Escape takes a private recipient away: the next message goes to everyone, as the composer then says.
        e.preventDefault();
        this.setRecipient(null);
      }
    });
    el.message.addEventListener('input', () => {
      this.autosize();
      if (this.sayErrorAbout === 'text') this.showSayError('');
    });
    el.toEveryone.addEventListener('click', () => {
      this.setRecipient(null);
      el.message.focus();
    });
    el.members.addEventListener('click', (e) => {
      const button = (e.target as Element).closest<HTMLButtonElement>('button[data-id]');
      const room = this.currentRoom();
      if (button === null || room === null) return;
      const member = room.members.get(button.dataset.id ?? '') ?? null;
      this.setRecipient(member === null || room.to?.id === member.id ? null : member);
      this.closeDrawers();
      el.message.focus();
    });
    el.memberScroll.addEventListener('scroll', () => {
      const box = el.memberScroll;
      // Tabbing to "Show more" scrolls it into view: then the key press asks, not the scrolling.
      if (document.activeElement === el.moreMembers) return;
      if (box.scrollHeight - box.scrollTop - box.clientHeight < MORE_MEMBERS_MARGIN) this.moreMembers(false);
    });
    el.moreMembers.addEventListener('click', (e) => this.moreMembers(e.detail === 0));
    el.refreshMembers.addEventListener('click', () => {
      const room = this.currentRoom();
      if (room !== null) this.requestMembers(room, 'refresh', '', '');
    });
    el.tabs.addEventListener('click', (e) => {
      const target = e.target as Element;
      const open = target.closest<HTMLButtonElement>('button[data-room]');
      const leave = target.closest<HTMLButtonElement>('button[data-leave]');
      if (open !== null) this.switchTo(open.dataset.room ?? '');
      else if (leave !== null) this.leave(leave.dataset.leave ?? '');
    });
    el.roomList.addEventListener('click', (e) => {
      const button = (e.target as Element).closest<HTMLButtonElement>('button[data-room]');
      if (button === null) return;
      el.room.value = button.dataset.room ?? '';
      this.join(el.room.value);
    });
    el.log.addEventListener('scroll', () => {
      const room = this.currentRoom();
      if (room !== null && this.atBottom()) {
        room.below = 0;
        el.jump.hidden = true;
      }
    });
    el.jump.addEventListener('click', () => {
      this.scrollToBottom();
      el.message.focus();
    });
    el.retry.addEventListener('click', () => this.conn.retryNow());
    window.addEventListener('online', () => this.conn.retryNow());
    // A fresh access link opened in this tab changes only the fragment: no reload, so take the new token and reconnect if its expiry stopped us.
    window.addEventListener('hashchange', () => {
      this.token = tokenFromAddress();
      this.conn.restart();
    });
    new EmojiPicker(byId<HTMLButtonElement>('emoji-button'), byId('emoji-panel'), el.message);
    this.startPanels();

    this.conn.start();
    void this.refreshRoomList();
    setInterval(() => {
      if (this.conn.isOpen) void this.refreshRoomList();
    }, ROOM_LIST_EVERY_MS);
    (el.nickname.value === '' ? el.nickname : el.room).focus();
  }

  /**
   * Narrow screens (the buttons show below 760 px only): the join form folds away once in a room,
   * and the room list and the people open as drawers over the conversation, one at a time.
   */
  private startPanels(): void {
    const el = this.el;
    const drawers: [HTMLButtonElement, HTMLElement][] = [
      [el.roomsToggle, el.roomsPane],
      [el.membersToggle, el.membersPane],
    ];
    el.joinToggle.addEventListener('click', () => {
      const open = !el.joinForm.classList.contains('open');
      this.showJoinForm(open);
      if (open) (el.nickname.value === '' ? el.nickname : el.room).focus();
    });
    for (const [toggle, pane] of drawers) {
      toggle.addEventListener('click', () => {
        const open = !pane.classList.contains('open');
        this.closeDrawers();
        if (!open) return;
        pane.classList.add('open');
        toggle.setAttribute('aria-expanded', 'true');
        pane.querySelector<HTMLElement>('button:not([hidden])')?.focus();
      });
      pane.addEventListener('keydown', (e) => {
        if (e.key !== 'Escape' || !pane.classList.contains('open')) return;
        e.preventDefault();
        this.closeDrawers();
        toggle.focus();
      });
    }
  }

  private closeDrawers(): void {
    for (const [toggle, pane] of [
      [this.el.roomsToggle, this.el.roomsPane],
      [this.el.membersToggle, this.el.membersPane],
    ] as const) {
      pane.classList.remove('open');
      toggle.setAttribute('aria-expanded', 'false');
    }
  }

  private showJoinForm(open: boolean): void {
    this.el.joinForm.classList.toggle('open', open);
    this.el.joinToggle.setAttribute('aria-expanded', String(open));
  }

  // ---------------------------------------------------------------- host events

  private onEvent(e: ServerEvent): void {
    switch (e.type) {
      case 'welcome':
        // "Not connected right now" is out of date once connected.
        if (this.sayErrorAbout === 'connection') this.showSayError('');
        this.maxTextChars = e.maxTextChars;
        this.idleTimeoutMs = e.idleTimeoutSeconds * 1000;
        this.rejoinAll();
        return;
      case 'joined': {
        const p = this.pending.get(e.requestId);
        this.pending.delete(e.requestId);
        const room = this.rooms.get(e.room);
        if (room !== undefined) this.onRejoined(room, e);
        else this.onJoined(e, p?.kind === 'join' ? p.nickname : e.you.name, p?.kind === 'join' && p.queued === true);
        return;
      }
      case 'presence':
        this.onPresence(e);
        return;
      case 'memberPage': {
        const p = this.pending.get(e.requestId);
        this.pending.delete(e.requestId);
        if (p?.kind === 'members') this.onMemberPage(p, e.requestId, e);
        return;
      }
      case 'message': {
        const room = this.rooms.get(e.room);
        if (room === undefined || !room.accept(e)) return;
        this.append(room, messageNode(e, room), true, room.isMine(e));
        this.alerts.message(e, room, room.name === this.current);
        return;
      }
      case 'sent':
        this.pending.delete(e.requestId);
        return;
      case 'left':
        this.pending.delete(e.requestId);
        this.removeRoom(e.room);
        return;
      case 'error':
        this.onError(e.requestId, e.code, e.room, e.temporary);
        return;
    }
  }

  private onJoined(j: JoinedInfo, nickname: string, queued: boolean): void {
    // Remembered once the host took it (a refused nickname is not offered again next time).
    storeNickname(nickname);
    const room = new RoomState(j.room, nickname, j);
    this.rooms.set(room.name, room);
    const log = h('div', { class: 'room-log', 'data-room': room.name, hidden: true });
    this.logs.set(room.name, log);
    this.el.log.appendChild(log);
    if (j.history.length > 0) log.appendChild(noticeNode(`Recent messages in ${room.name}`));
    for (const m of j.history) if (room.accept(m)) log.appendChild(messageNode(m, room));
    log.appendChild(noticeNode(`You joined ${room.name} as ${j.you.name}.`, 'ok'));
    this.showJoinError('');
    this.el.app.classList.add('joined');
    this.showJoinForm(false);
    this.closeDrawers();
    if (queued && this.current !== null) {
      // Asked for while offline: the person has been writing in another room since; its tab appears, the view stays.
      this.showTabs();
    } else {
      this.switchTo(room.name);
      this.el.message.focus();
    }
    void this.refreshRoomList();
  }

  /** Left first, then joined; the count is the host's. Notices only for what this client did not know. */
  private onPresence(p: PresenceInfo): void {
    const room = this.rooms.get(p.room);
    if (room === undefined || room.status !== 'joined') return;
    const wasStale = room.members.stale;
    const change = room.members.applyPresence(p);
    for (const m of change.left) {
      // The recipient stays chosen by name, unbound until someone by that name is here again.
      if (room.to?.id === m.id) room.to = null;
      if (!room.myIds.has(m.id)) this.append(room, personNotice(m.name, ' left'), false);
    }
    for (const m of change.joined) if (!room.myIds.has(m.id)) this.append(room, personNotice(m.name, ' joined'), false);
    if (room.toName !== null && room.to === null) room.bindRecipient();
    if (room.name === this.current) {
      if (change.joined.length + change.left.length > 0 || wasStale !== room.members.stale) this.showMembers();
      else this.showCount(room);
    }
    this.refreshRoomListSoon();
  }

  private onMemberPage(p: Extract<Pending, { kind: 'members' }>, requestId: number, page: MemberPageInfo): void {
    const room = this.rooms.get(p.room);
    if (room === undefined) {
      if (p.purpose === 'search') this.picker.answered(p.prefix, null, false);
      return;
    }
    if (p.purpose === 'search') {
      const members = page.members.filter((m) => !room.myIds.has(m.id));
      this.picker.answered(p.prefix, room.name === this.current ? members : null, page.nextAfter !== '');
      return;
    }
    if (room.listRequest !== requestId) return;
    room.listRequest = null;
    room.listError = '';
    const before = room.members.size;
    if (p.purpose === 'refresh') room.members.reset(page.members, page.memberCount, page.nextAfter);
    else room.members.addPage(page.members, page.nextAfter, page.memberCount);
    if (room.name !== this.current) return;
    this.showMembers();
    if (p.purpose === 'refresh') {
      // Loaded again from the start: show the start (staying at the shrunken list's end would load page after page).
      this.el.memberScroll.scrollTop = 0;
      if (document.activeElement === this.el.refreshMembers && this.el.refreshMembers.hidden) this.el.members.querySelector('button')?.focus();
    }
    if (p.purpose === 'more' && this.focusNewMembers) {
      // Asked for with the keyboard: go on to the first new name (the button may be gone now).
      const first = room.members.loaded.slice(before).find((m) => !room.myIds.has(m.id));
      if (first !== undefined) this.memberNodes.get(first.id)?.querySelector('button')?.focus();
    }
    this.focusNewMembers = false;
  }

  /** Asks for the next page of the current room's members, when there is one and none is on its way. */
  private moreMembers(byKeyboard: boolean): void {
    const room = this.currentRoom();
    if (room === null || room.members.complete) return;
    if (room.listRequest === null && this.requestMembers(room, 'more', room.members.nextAfter, '') === null) return;
    this.focusNewMembers ||= byKeyboard;
  }

  /** Sends a Members request (page size: the host's); returns its id, or null when not connected. */
  private requestMembers(room: RoomState, purpose: 'more' | 'refresh' | 'search', after: string, prefix: string): number | null {
    if (room.status !== 'joined') return null;
    const id = this.conn.send({ type: 'members', room: room.name, after, prefix, limit: 0 });
    if (id === null) return null;
    this.pending.set(id, { kind: 'members', room: room.name, purpose, prefix });
    if (purpose !== 'search') {
      room.listRequest = id;
      if (room.name === this.current) this.showCount(room);
    }
    return id;
  }

  private onRejoined(room: RoomState, j: JoinedInfo): void {
    const r = applyRejoin(room, j);
    if (r.gap) {
      this.append(room, gapNode('Some messages could not be recovered while you were away. There is a gap here.'), false);
      if (r.missed.length > 0) this.append(room, noticeNode('Most recent messages:'), false);
    } else {
      const n = r.missed.length;
      this.append(room, noticeNode(n === 0 ? 'Reconnected. You missed nothing.' : `Reconnected. ${n} message${n === 1 ? '' : 's'} you missed:`, 'ok'), false);
    }
    for (const m of r.missed) this.append(room, messageNode(m, room), true);
    for (const name of r.departed) this.append(room, personNotice(name, ' left while you were away'), false);
    for (const name of r.arrived) this.append(room, personNotice(name, ' joined while you were away'), false);
    this.showTabs();
    if (room.name === this.current) this.showMembers();
  }

  private onError(requestId: number, code: ErrorCodeName, errorRoom: string | null, temporary = false): void {
    const p = this.pending.get(requestId);
    this.pending.delete(requestId);
    const roomName = p?.room ?? errorRoom;
    const words = plainError(code, { room: roomName, maxTextChars: this.maxTextChars });
    if (p === undefined && code === 'NicknameLost' && errorRoom !== null) return this.onNicknameLost(errorRoom, words);
    if (p?.kind === 'join' && p.rejoin) {
      const room = this.rooms.get(p.room);
      if (room === undefined) return;
      // Temporary refusals (Redis away, a rate limit) and, for a while, our own old membership holding the name: try again.
      const delay = rejoinRetryDelay(room, code, temporary, Date.now(), this.idleTimeoutMs);
      if (delay !== null) {
        if (room.rejoinFailures === 1) this.append(room, noticeNode(`Could not rejoin yet: ${words} Trying again…`, 'warn'), false);
        room.rejoinTimer = setTimeout(() => {
          room.rejoinTimer = null;
          this.rejoin(room);
        }, delay);
        return;
      }
      room.status = 'away';
      this.append(room, noticeNode(`Could not rejoin: ${words}`, 'warn'), false);
      this.showTabs();
      return;
    }
    if (p?.kind === 'join') {
      const field = code === 'InvalidRoomName' ? this.el.room : this.el.nickname;
      this.showJoinError(words, code === 'InvalidRoomName' || code === 'InvalidNickname' || code === 'NicknameTaken' ? field : null);
      this.el.joinButton.disabled = false;
      field.focus();
      return;
    }
    if (p?.kind === 'members') {
      const room = this.rooms.get(p.room);
      if (p.purpose === 'search') this.picker.answered(p.prefix, null, false, words);
      else if (room !== undefined && room.listRequest === requestId) {
        room.listRequest = null;
        room.listError = `The list could not be loaded: ${words}`;
        if (room.name === this.current) this.showMembers();
      }
      return;
    }
    if (p?.kind === 'say') {
      // The recipient is gone (in a room too big for presence lists, this is how we learn it).
      const room = this.rooms.get(p.room);
      let why = words;
      if (code === 'RecipientNotFound' && room !== undefined) {
        // Unbound, still chosen: the draft stays private (see say()).
        if (room.toName === p.to) room.to = null;
        if (p.to !== null) why = `${p.to} left; your message was not sent.`;
        if (room.name === this.current) this.showMembers();
      }
      if (this.el.message.value === '') {
        this.el.message.value = p.text;
        this.autosize();
      }
      this.showSayError(p.room !== this.current ? `In ${p.room}: ${why}` : why);
      return;
    }
    if (p?.kind === 'leave') {
      this.removeRoom(p.room);
      return;
    }
    this.showSayError(words);
  }

  /** Unasked: the host took us out of `name` (our nickname went to someone else). Offer the join form for it, under another name. */
  private onNicknameLost(name: string, words: string): void {
    const wasCurrent = this.current === name;
    this.removeRoom(name);
    this.el.room.value = name;
    this.showJoinError(words, this.el.nickname);
    if (wasCurrent) {
      this.el.nickname.focus();
      this.el.nickname.select();
    }
  }

  private onLost(code: number): void {
    for (const room of this.rooms.values()) {
      room.status = 'away';
      const next = code === CloseCode.TokenExpired ? 'Open this page with a fresh access link (#token=…) to rejoin.' : 'Reconnecting…';
      this.append(room, noticeNode(`Connection lost: ${describeClose(code)}. ${next}`, 'warn'), false);
    }
    for (const p of this.pending.values()) {
      if (p.kind === 'join' && !p.rejoin) this.queued.push({ room: p.room, nickname: p.nickname });
      if (p.kind === 'say') {
        if (this.el.message.value === '') this.el.message.value = p.text;
        this.showSayError('The connection was lost before that message was confirmed. It is back in the box; send it again once reconnected.', 'connection');
      }
    }
    this.pending.clear();
    for (const room of this.rooms.values()) {
      room.listRequest = null;
      // The next connection's welcome rejoins every room at once.
      if (room.rejoinTimer !== null) clearTimeout(room.rejoinTimer);
      room.rejoinTimer = null;
    }
    this.picker.cancel();
    this.showTabs();
    this.showMembers();
  }

  private rejoinAll(): void {
    for (const room of this.rooms.values()) this.rejoin(room);
    const queued = this.queued;
    this.queued = [];
    for (const q of queued) if (!this.rooms.has(q.room)) this.sendJoin(q.room, q.nickname, true);
  }

  private rejoin(room: RoomState): void {
    if (!this.rooms.has(room.name)) return;
    if (room.rejoinTimer !== null) clearTimeout(room.rejoinTimer);
    room.rejoinTimer = null;
    // One rejoin of a room in flight at a time.
    if ([...this.pending.values()].some((p) => p.kind === 'join' && p.rejoin && p.room === room.name)) return;
    room.status = 'rejoining';
    const since = room.lastSeq > 0 ? room.lastSeq : null;
    const id = this.conn.send({
      type: 'join',
      room: room.name,
      nickname: room.nickname,
      since,
      epoch: room.epoch,
      token: this.token,
      protocolVersion: PROTOCOL_VERSION,
      ...(room.resumeKey ? { resumeKey: room.resumeKey } : {}),
    });
    if (id !== null) this.pending.set(id, { kind: 'join', room: room.name, nickname: room.nickname, rejoin: true });
  }

  // ---------------------------------------------------------------- user actions

  private join(roomInput: string): void {
    const nickname = this.el.nickname.value.trim();
    const room = roomInput.trim();
    if (nickname === '') {
      this.showJoinError('Enter a nickname first.', this.el.nickname);
      this.el.nickname.focus();
      return;
    }
    if (!ROOM_NAME_PATTERN.test(room)) {
      this.showJoinError(plainError('InvalidRoomName'), this.el.room);
      this.el.room.focus();
      return;
    }
    const known = this.rooms.get(room);
    if (known !== undefined) {
      this.showJoinError('');
      this.switchTo(room);
      // A room we could not get back into: Join tries again.
      if (known.status === 'away' && this.conn.isOpen) {
        known.rejoinFailures = 0;
        known.nicknameTakenSince = null;
        this.rejoin(known);
      }
      return;
    }
    if ([...this.pending.values()].some((p) => p.kind === 'join' && p.room === room)) return;
    this.sendJoin(room, nickname);
  }

  private sendJoin(room: string, nickname: string, queued = false): void {
    const id = this.conn.send({ type: 'join', room, nickname, since: null, token: this.token, protocolVersion: PROTOCOL_VERSION });
    if (id === null) {
      if (!this.queued.some((q) => q.room === room)) this.queued.push({ room, nickname });
      this.showJoinError(`Not connected yet. You will join ${room} as soon as the connection is up.`);
      return;
    }
    this.showJoinError('');
    this.pending.set(id, { kind: 'join', room, nickname, rejoin: false, queued });
  }

  private say(): void {
    const room = this.currentRoom();
    const text = this.el.message.value;
    this.showSayError('');
    if (room === null) {
      this.showSayError('Join a room first, then write your message.');
      return;
    }
    if (text.trim() === '') return;
    const length = [...text].length;
    if (length > this.maxTextChars) {
      this.showSayError(`That message is ${length} characters long; the limit is ${this.maxTextChars}. Shorten it and send again.`, 'text');
      return;
    }
    if (room.toName !== null && room.to === null) {
      // Never to the room instead: a private draft stays private.
      this.showSayError(
        `${room.toName} left; your message was not sent. It stays in the box: send it once ${room.toName} is back, or press Escape to write to everyone.`,
      );
      return;
    }
    const id = room.status === 'joined' ? this.conn.send({ type: 'say', room: room.name, text, to: room.to?.id ?? null }) : null;
    if (id === null) {
      this.showSayError('Not connected right now. Your message stays in the box; send it again once reconnected.', 'connection');
      return;
    }
    this.pending.set(id, { kind: 'say', room: room.name, text, to: room.toName });
    this.el.message.value = '';
    this.autosize();
  }

  private leave(name: string): void {
    if (!this.rooms.has(name)) return;
    const id = this.conn.send({ type: 'leave', room: name });
    if (id === null) this.removeRoom(name);
    else this.pending.set(id, { kind: 'leave', room: name });
  }

  private setRecipient(member: MemberInfo | null): void {
    const room = this.currentRoom();
    if (room === null) return;
    room.setRecipient(member !== null && !room.myIds.has(member.id) ? member : null);
    this.showMembers();
  }

  // ---------------------------------------------------------------- view updates

  private currentRoom(): RoomState | null {
    return this.current === null ? null : (this.rooms.get(this.current) ?? null);
  }

  private switchTo(name: string): void {
    const room = this.rooms.get(name);
    if (room === undefined) return;
    if (this.current !== null && this.current !== name) this.scrollTops.set(this.current, this.el.log.scrollTop);
    for (const [n, log] of this.logs) log.hidden = n !== name;
    this.current = name;
    const unread = room.unread;
    room.unread = 0;
    room.below = 0;
    this.el.empty.hidden = true;
    this.el.jump.hidden = true;
    const saved = this.scrollTops.get(name);
    const divider = this.dividers.get(name);
    if (unread > 0 && divider?.isConnected) this.showUnread(room, divider, unread);
    else if (saved === undefined) this.scrollToBottom();
    else this.el.log.scrollTop = saved;
    this.el.chatTitle.textContent = name;
    this.el.log.setAttribute('aria-label', `Conversation in ${name}`);
    this.picker.cancel();
    this.memberNodes.clear();
    this.el.memberScroll.scrollTop = 0;
    this.showTabs();
    this.showMembers();
  }

  private removeRoom(name: string): void {
    // The focus was on the tab going away (its × most likely): it moves on to the next tab, or the message box.
    const tab = this.tabNodes.get(name);
    const hadFocus = tab?.contains(document.activeElement) ?? false;
    const names = [...this.rooms.keys()];
    const nextTab = names[names.indexOf(name) + 1];
    if (!this.rooms.delete(name)) return;
    this.logs.get(name)?.remove();
    this.logs.delete(name);
    this.scrollTops.delete(name);
    this.dividers.delete(name);
    if (this.current === name) {
      this.current = null;
      const next = this.rooms.keys().next();
      if (!next.done) this.switchTo(next.value);
      else {
        this.el.empty.hidden = false;
        this.el.chatTitle.textContent = 'No room yet';
        this.el.app.classList.remove('joined');
        this.el.log.setAttribute('aria-label', 'Conversation');
        this.showTabs();
        this.showMembers();
      }
    } else this.showTabs();
    if (hadFocus) {
      const target = nextTab === undefined ? undefined : this.tabNodes.get(nextTab)?.querySelector('button');
      (target ?? this.el.message).focus();
    }
    void this.refreshRoomList();
  }

  /** Adds a node to a room's conversation; follows it when the person was at the bottom. */
  private append(room: RoomState, node: HTMLElement, counts: boolean, mine = false): void {
    const log = this.logs.get(room.name);
    if (log === undefined) return;
    const isCurrent = room.name === this.current;
    const follow = isCurrent && (mine || this.atBottom());
    log.appendChild(node);
    // Older nodes go, but not from under someone scrolled up reading them (up to twice the cap), and the view stays where it is.
    const cap = isCurrent && !follow ? 2 * MAX_LOG_NODES : MAX_LOG_NODES;
    if (log.childElementCount > cap) {
      const before = this.el.log.scrollHeight;
      while (log.childElementCount > cap) log.firstElementChild?.remove();
      if (isCurrent && !follow) this.el.log.scrollTop -= before - this.el.log.scrollHeight;
    }
    if (isCurrent) {
      if (follow) this.scrollToBottom();
      else if (counts) {
        room.below += 1;
        this.el.jump.textContent = `${room.below} new message${room.below === 1 ? '' : 's'} ↓`;
        this.el.jump.hidden = false;
      }
    } else if (counts) {
      if (room.unread === 0) this.markFirstUnread(room, log, node);
      room.unread += 1;
      this.showTabs();
    }
  }

  /** The first message the person has not seen: a divider goes before it (the one from last time goes away). */
  private markFirstUnread(room: RoomState, log: HTMLElement, node: HTMLElement): void {
    this.dividers.get(room.name)?.remove();
    const divider = h('div', { class: 'new-divider', role: 'separator' }, h('span', {}, 'New messages'));
    log.insertBefore(divider, node);
    this.dividers.set(room.name, divider);
  }

  /** Back in a room with unread messages: they start at the top of the view, under "N new messages", and the jump button counts them. */
  private showUnread(room: RoomState, divider: HTMLElement, unread: number): void {
    const words = `${unread} new message${unread === 1 ? '' : 's'}`;
    divider.firstElementChild!.textContent = words;
    const log = this.el.log;
    log.scrollTop += divider.getBoundingClientRect().top - log.getBoundingClientRect().top - 8;
    if (!this.atBottom()) {
      room.below = unread;
      this.el.jump.textContent = `${words} ↓`;
      this.el.jump.hidden = false;
    }
  }

  private atBottom(): boolean {
    const log = this.el.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  }

  private scrollToBottom(): void {
    this.el.log.scrollTop = this.el.log.scrollHeight;
    this.el.jump.hidden = true;
    const room = this.currentRoom();
    if (room !== null) room.below = 0;
  }

  private showTabs(): void {
    renderTabs(this.el.tabs, this.rooms.values(), this.current, this.tabNodes);
    const unread = [...this.rooms.values()].reduce((sum, r) => sum + r.unread, 0);
    this.alerts.setOtherUnread(unread);
  }

  private showMembers(): void {
    const room = this.currentRoom();
    renderMembers(this.el.members, room, this.memberNodes);
    this.el.membersNote.textContent = room?.listError ?? '';
    this.showCount(room);
    this.showAudience(room);
  }

  /** Who will read the next message: the composer always says it, in words and in colour. */
  private showAudience(room: RoomState | null): void {
    const el = this.el;
    const name = room?.toName ?? null;
    this.picker.show(name === null ? null : (room?.to ?? { id: '', name }));
    el.toEveryone.hidden = name === null;
    el.composer.classList.toggle('private', name !== null);
    el.composer.classList.toggle('unbound', name !== null && room?.to === null);
    el.message.placeholder = name !== null ? `Private message to ${name}…` : 'Write a message…';
    const text =
      room === null
        ? ''
        : name === null
          ? `Everyone in ${room.name} will read this.`
          : room.to === null
            ? `${name} is not here now: a private message to ${name} is not sent until they are back. Escape: write to everyone.`
            : `Private: only ${name} will read this. Escape: write to everyone.`;
    if (el.audience.textContent === text) return;
    // The line can change the composer's height, and so the log's: someone at the bottom stays there.
    const stick = this.atBottom();
    el.audience.textContent = text;
    if (stick) el.log.scrollTop = el.log.scrollHeight;
  }

  /** The count, and the buttons that load more of the list or load it again. */
  private showCount(room: RoomState | null): void {
    const el = this.el;
    const list = room?.members;
    el.memberCount.textContent = list === undefined ? '' : `${people(list.count)} here`;
    el.membersToggle.textContent = list === undefined ? 'People' : `People (${list.count})`;
    // Not disabled while loading: a disabled button would drop the keyboard focus.
    const busy = room !== null && room.listRequest !== null;
    el.moreMembers.hidden = list === undefined || list.complete;
    el.moreMembers.textContent = `Show more people (${busy ? 'loading…' : `${list?.size ?? 0} of ${list?.count ?? 0} listed`})`;
    el.refreshMembers.hidden = list === undefined || !list.stale;
  }

  /** The join form's error (its region stays in the page, empty, so that it is announced when it fills); `field`: the input it is about. */
  private showJoinError(text: string, field: HTMLInputElement | null = null): void {
    this.el.joinError.textContent = text;
    this.el.joinButton.disabled = false;
    // Folded away on a phone: an error about it opens it.
    if (text !== '') this.showJoinForm(true);
    for (const input of [this.el.nickname, this.el.room]) {
      if (input === field && text !== '') input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
  }

  /** The composer's error; `about`: the text itself (marks the box invalid), the connection (goes once reconnected), or other. */
  private showSayError(text: string, about: 'text' | 'connection' | 'other' = 'other'): void {
    this.el.sayError.textContent = text;
    this.sayErrorAbout = text === '' ? 'other' : about;
    if (about === 'text' && text !== '') this.el.message.setAttribute('aria-invalid', 'true');
    else this.el.message.removeAttribute('aria-invalid');
  }

  private autosize(): void {
    const t = this.el.message;
    t.style.height = 'auto';
    t.style.height = `${Math.min(t.scrollHeight, 160)}px`;
  }

  /**
   * The connection's state. The status region (announced) changes with the state only: one
   * "Offline" for a whole outage, however many attempts it takes; the attempt and the countdown
   * to the next one are shown beside it, where a screen reader finds them without hearing each tick.
   */
  private showConnection(s: ConnectionState): void {
    const el = this.el;
    if (this.countdown !== null) clearInterval(this.countdown);
    this.countdown = null;
    el.conn.dataset.state = s.kind;
    el.retry.hidden = s.kind !== 'waiting';
    let status: string;
    let detail = '';
    switch (s.kind) {
      case 'connecting':
        // An attempt within an outage is no news: the region keeps saying "Offline".
        status = s.attempt > 1 || el.connText.textContent === OFFLINE ? OFFLINE : 'Connecting…';
        if (s.attempt > 1) detail = `Trying again (attempt ${s.attempt})`;
        break;
      case 'open':
        status = 'Connected';
        break;
      case 'waiting': {
        status = OFFLINE;
        const tick = (): void => {
          const seconds = Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000));
          el.connDetail.textContent = `${s.reason}; retrying in ${seconds} s`;
        };
        tick();
        this.countdown = setInterval(tick, 1000);
        break;
      }
      case 'stopped':
        status = `Disconnected: ${s.reason}`;
        break;
    }
    if (el.connText.textContent !== status) el.connText.textContent = status;
    if (s.kind !== 'waiting') el.connDetail.textContent = detail;
  }

  /** Member counts change with presence: refresh the list shortly after, once for a burst of changes. */
  private refreshRoomListSoon(): void {
    if (this.listTimer !== null) return;
    this.listTimer = setTimeout(() => {
      this.listTimer = null;
      void this.refreshRoomList();
    }, 1000);
  }

  private async refreshRoomList(): Promise<void> {
    try {
      // The busiest rooms only, however many the host has; with join tokens, the rooms this page's token covers.
      const token = tokenFromAddress();
      const res = await fetch(`/api/rooms?limit=${ROOM_LIST_LIMIT}`, { cache: 'no-store', headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as { rooms?: unknown; total?: unknown };
      const rooms = Array.isArray(body.rooms) ? body.rooms : [];
      this.roomList = rooms
        .filter((r): r is { name: string; members: number } => typeof r === 'object' && r !== null && typeof (r as { name?: unknown }).name === 'string')
        .map((r) => ({ name: r.name, members: Number(r.members) || 0 }));
      this.roomTotal = Math.max(this.roomList.length, Number(body.total) || 0);
    } catch {
      // Keep the last list; the host may be restarting. The next refresh tries again.
    }
    renderRoomList(this.el.roomList, this.roomList, new Set(this.rooms.keys()), this.roomTotal, this.roomListNodes);
  }
}

/** The access token in the page address (/#token=...), if any. */
function tokenFromAddress(): string | undefined {
  return new URLSearchParams(location.hash.slice(1)).get('token') ?? undefined;
}
