/**
 * Splits message text into plain text and http(s) links. Only absolute http:// and https://
 * URLs become links; anything else (javascript:, data:, bare domains) stays text.
 */
export type Segment = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'link'; readonly text: string; readonly href: string };

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?'")\]}>*_~]$/;

/** Drops punctuation that ends a sentence rather than the URL ("see http://x.org/a." -> ".../a"). */
function trimUrl(url: string): string {
  let out = url;
  while (TRAILING.test(out)) {
    const last = out[out.length - 1];
    // Keep a closing parenthesis that closes one inside the URL (Wikipedia-style links).
    if (last === ')' && (out.match(/\(/g)?.length ?? 0) >= (out.match(/\)/g)?.length ?? 0)) break;
    out = out.slice(0, -1);
  }
  return out;
}

function safeHref(candidate: string): string | null {
  try {
    const url = new URL(candidate);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

export function linkify(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index ?? 0;
    const raw = trimUrl(match[0]);
    const href = safeHref(raw);
    if (href === null) continue;
    if (start > last) out.push({ kind: 'text', text: text.slice(last, start) });
    out.push({ kind: 'link', text: raw, href });
    last = start + raw.length;
  }
  if (last < text.length) out.push({ kind: 'text', text: text.slice(last) });
  return out;
}
