/**
 * The emoji picker: a panel (a disclosure, not a menu) of buttons that insert into the message
 * box. A pick, Escape, or Tab out of the panel closes it; a pick returns to the message box.
 */
import { h } from './dom.js';
import { EMOJI_GROUPS } from './emoji.js';

export class EmojiPicker {
  private built = false;

  constructor(
    private readonly toggle: HTMLButtonElement,
    private readonly panel: HTMLElement,
    private readonly target: HTMLTextAreaElement,
  ) {
    toggle.addEventListener('click', () => (this.isOpen ? this.close(true) : this.open()));
    panel.addEventListener('click', (e) => {
      const button = (e.target as Element).closest<HTMLButtonElement>('button[data-emoji]');
      if (button !== null) this.insert(button.dataset.emoji ?? '');
    });
    panel.addEventListener('keydown', (e) => this.onPanelKey(e));
    panel.addEventListener('focusout', (e) => {
      const to = e.relatedTarget as Node | null;
      if (this.isOpen && to !== null && !panel.contains(to) && to !== toggle) this.close(false);
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.isOpen) {
        e.preventDefault();
        this.close(true);
      }
    });
    document.addEventListener('pointerdown', (e) => {
      if (this.isOpen && !panel.contains(e.target as Node) && !toggle.contains(e.target as Node)) this.close(false);
    });
  }

  get isOpen(): boolean {
    return !this.panel.hidden;
  }

  open(): void {
    if (!this.built) this.build();
    this.panel.hidden = false;
    this.toggle.setAttribute('aria-expanded', 'true');
    this.panel.querySelector<HTMLButtonElement>('button[data-emoji]')?.focus();
  }

  close(refocus: boolean): void {
    this.panel.hidden = true;
    this.toggle.setAttribute('aria-expanded', 'false');
    if (refocus) this.toggle.focus();
  }

  private build(): void {
    this.built = true;
    for (const group of EMOJI_GROUPS) {
      this.panel.appendChild(
        h(
          'div',
          { class: 'emoji-group', role: 'group', 'aria-label': group.name },
          h('p', { class: 'emoji-title', 'aria-hidden': 'true' }, group.name),
          h('div', { class: 'emoji-grid' }, ...group.emoji.map((e) => h('button', { type: 'button', 'data-emoji': e, tabindex: '-1' }, e))),
        ),
      );
    }
    const first = this.panel.querySelector<HTMLButtonElement>('button[data-emoji]');
    if (first !== null) first.tabIndex = 0;
  }

  /** Arrow keys move between emoji (one tab stop for the whole panel); Enter/Space press the button. */
  private onPanelKey(e: KeyboardEvent): void {
    const buttons = [...this.panel.querySelectorAll<HTMLButtonElement>('button[data-emoji]')];
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (index < 0) return;
    const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, Home: -index, End: buttons.length - 1 - index };
    let next: HTMLButtonElement | undefined;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') next = verticalNeighbour(buttons, buttons[index]!, e.key === 'ArrowDown');
    else if (moves[e.key] !== undefined) next = buttons[Math.min(buttons.length - 1, Math.max(0, index + moves[e.key]!))];
    else return;
    e.preventDefault();
    if (next === undefined) return;
    buttons[index]!.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  }

  private insert(emoji: string): void {
    const t = this.target;
    const start = t.selectionStart ?? t.value.length;
    const end = t.selectionEnd ?? t.value.length;
    t.setRangeText(emoji, start, end, 'end');
    t.dispatchEvent(new Event('input', { bubbles: true }));
    this.close(false);
    t.focus();
  }
}

/**
 * The button straight below (or above) `from`: in the nearest row in that direction, across the
 * groups' separate grids (whose last rows are often short), the one closest to it horizontally.
 */
function verticalNeighbour(buttons: HTMLButtonElement[], from: HTMLButtonElement, down: boolean): HTMLButtonElement | undefined {
  const at = from.getBoundingClientRect();
  const centre = (r: DOMRect) => r.left + r.width / 2;
  let best: HTMLButtonElement | undefined;
  let bestRow = down ? Infinity : -Infinity;
  let bestDx = Infinity;
  for (const b of buttons) {
    const r = b.getBoundingClientRect();
    if (down ? r.top <= at.top + 1 : r.top >= at.top - 1) continue;
    const dx = Math.abs(centre(r) - centre(at));
    const closerRow = down ? r.top < bestRow - 1 : r.top > bestRow + 1;
    const sameRow = Math.abs(r.top - bestRow) <= 1;
    if (closerRow || (sameRow && dx < bestDx)) {
      best = b;
      bestRow = r.top;
      bestDx = dx;
    }
  }
  return best;
}
