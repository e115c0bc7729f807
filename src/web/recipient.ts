/**
 * The "To" picker: a combobox that finds a member by nickname prefix. Loaded members match at
 * once; when the loaded list is not the whole room, the host is asked (Members with a prefix),
 * debounced while typing and at most one request in flight and about three a second.
 */
import type { MemberInfo } from '../protocol/index.js';
import { h, replace } from './dom.js';

const DEBOUNCE_MS = 200;
const MIN_INTERVAL_MS = 350;

export interface RecipientSource {
  /** Matches among the loaded members (never me); `all` when they are every match in the room. */
  local(prefix: string): { members: MemberInfo[]; all: boolean };
  /** Asks the host for members with this prefix; false when it cannot now. The answer comes through `answered`. */
  ask(prefix: string): boolean;
  /** The person picked one (null: everyone); `focus`: move on to the message box. */
  choose(member: MemberInfo | null, focus: boolean): void;
}

export class RecipientPicker {
  /** The options shown: null is "Everyone". */
  private options: (MemberInfo | null)[] = [];
  private active = -1;
  private chosen: MemberInfo | null = null;
  private debounce: ReturnType<typeof setTimeout> | null = null;
  private throttle: ReturnType<typeof setTimeout> | null = null;
  private inFlight = false;
  /** The prefix to ask for next; null: nothing to ask. */
  private wanted: string | null = null;
  private lastAsk = 0;

  constructor(
    private readonly input: HTMLInputElement,
    private readonly popup: HTMLElement,
    private readonly list: HTMLElement,
    private readonly status: HTMLElement,
    private readonly source: RecipientSource,
  ) {
    input.addEventListener('input', () => this.update());
    input.addEventListener('click', () => {
      if (popup.hidden) this.update();
    });
    input.addEventListener('keydown', (e) => this.onKey(e));
    input.addEventListener('focusout', (e) => {
      if (popup.contains(e.relatedTarget as Node | null)) return;
      this.close();
      if (this.query() === '' && this.chosen !== null) this.choose(null, false);
      else this.show(this.chosen);
    });
    // Keep the focus in the box while an option is clicked.
    list.addEventListener('pointerdown', (e) => e.preventDefault());
    list.addEventListener('click', (e) => {
      const option = (e.target as Element).closest<HTMLElement>('[data-i]');
      if (option !== null) this.choose(this.options[Number(option.dataset.i)] ?? null, true);
    });
  }

  /** Shows the current recipient (after a room switch or a click in the member list), unless the person is typing. */
  show(member: MemberInfo | null): void {
    this.chosen = member;
    if (document.activeElement !== this.input || this.popup.hidden) this.input.value = member?.name ?? '';
  }

  /** The host's answer to `ask(prefix)`; members null when it is for another room or failed (`note` says why). */
  answered(prefix: string, members: MemberInfo[] | null, more: boolean, note = ''): void {
    this.inFlight = false;
    if (!this.popup.hidden && prefix === this.query()) {
      if (members !== null) this.render(members, more);
      else if (note !== '') this.status.textContent = note;
    }
    this.pump();
  }

  /** Forgets a request that will never be answered (the connection was lost, the room left). */
  cancel(): void {
    this.inFlight = false;
    this.wanted = null;
    this.close();
  }

  private query(): string {
    return this.input.value.trim();
  }

  private update(): void {
    const prefix = this.query();
    const { members, all } = this.source.local(prefix);
    this.popup.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
    this.render(members, !all, all ? undefined : 'Searching…');
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.debounce = null;
    this.wanted = null;
    if (!all) {
      this.debounce = setTimeout(() => {
        this.debounce = null;
        this.wanted = prefix;
        this.pump();
      }, DEBOUNCE_MS);
    }
  }

  /** Sends the wanted search when none is in flight and the last one is old enough. */
  private pump(): void {
    if (this.inFlight || this.wanted === null || this.throttle !== null) return;
    const wait = this.lastAsk + MIN_INTERVAL_MS - Date.now();
    if (wait > 0) {
      this.throttle = setTimeout(() => {
        this.throttle = null;
        this.pump();
      }, wait);
      return;
    }
    const prefix = this.wanted;
    this.wanted = null;
    this.lastAsk = Date.now();
    this.inFlight = this.source.ask(prefix);
    if (!this.inFlight && prefix === this.query()) this.status.textContent = 'Not connected: only the people already listed can be found.';
  }

  private render(members: MemberInfo[], more: boolean, note?: string): void {
    const prefix = this.query();
    this.options = prefix === '' ? [null, ...members] : members;
    this.active = this.options.length > 0 ? 0 : -1;
    replace(
      this.list,
      ...this.options.map((m, i) =>
        h(
          'li',
          {
            id: `to-option-${i}`,
            role: 'option',
            class: 'to-option',
            'data-i': i,
            'aria-selected': String(i === this.active),
            dir: m === null ? null : 'auto',
          },
          m === null ? 'Everyone' : m.name,
        ),
      ),
    );
    this.markActive();
    const n = members.length;
    this.status.textContent =
      note ??
      (n === 0 && prefix !== ''
        ? 'No one here by that name.'
        : more
          ? `The first ${n} matches; type more of the name to narrow them.`
          : prefix === ''
            ? ''
            : `${n} ${n === 1 ? 'match' : 'matches'}.`);
  }

  private markActive(): void {
    const items = this.list.children;
    for (let i = 0; i < items.length; i++) items[i]!.setAttribute('aria-selected', String(i === this.active));
    const current = items[this.active];
    if (current === undefined) this.input.removeAttribute('aria-activedescendant');
    else {
      this.input.setAttribute('aria-activedescendant', current.id);
      current.scrollIntoView({ block: 'nearest' });
    }
  }

  private onKey(e: KeyboardEvent): void {
    const open = !this.popup.hidden;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (!open) return this.update();
      const n = this.options.length;
      if (n > 0) this.active = (this.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      this.markActive();
    } else if (e.key === 'Enter') {
      // The box is in the composer form: Enter here picks, it never sends.
      e.preventDefault();
      if (open && this.active >= 0) this.choose(this.options[this.active] ?? null, true);
      else if (this.query() === '') this.choose(null, true);
    } else if (e.key === 'Escape' && open) {
      e.preventDefault();
      e.stopPropagation();
      this.close();
      this.input.value = this.chosen?.name ?? '';
    }
  }

  private choose(member: MemberInfo | null, focus: boolean): void {
    this.close();
    this.chosen = member;
    this.input.value = member?.name ?? '';
    this.source.choose(member, focus);
  }

  private close(): void {
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.debounce = null;
    this.wanted = null;
    this.popup.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }
}
