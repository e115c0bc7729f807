/**
 * Which web pages may open a WebSocket to the host. Browsers send Origin on every
 * WebSocket upgrade; other clients (terminal client, bots) usually send none, and
 * are not what an origin check protects against.
 */

export type OriginPolicy =
  /** Only pages served by this host (Origin's host equals the Host header). */
  | { readonly kind: 'same-origin' }
  /** Any origin: must be asked for explicitly with `*`. */
  | { readonly kind: 'any' }
  /** These origins (scheme://host[:port], lower case), plus the host's own. */
  | { readonly kind: 'list'; readonly origins: ReadonlySet<string> };

/** Parses --allowed-origins: empty for same-origin, `*` for any, or a comma-separated list of origins. */
export function parseOriginPolicy(text: string): OriginPolicy {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) return { kind: 'same-origin' };
  if (items.includes('*')) {
    if (items.length > 1) throw new Error('"*" allows every origin: give it alone');
    return { kind: 'any' };
  }
  const origins = new Set<string>();
  for (const item of items) {
    let url: URL;
    try {
      url = new URL(item);
    } catch (error) {
      throw new Error(`"${item}" is not an origin like https://chat.example.com (${(error as Error).message})`);
    }
    if (url.origin === 'null' || url.pathname !== '/' || url.search || url.hash || item.endsWith('/')) {
      throw new Error(`"${item}" is not an origin like https://chat.example.com (no path, no trailing slash)`);
    }
    origins.add(url.origin);
  }
  return { kind: 'list', origins };
}

/** True when an upgrade with this Origin header (empty: none) and Host header may proceed. */
export function originAllowed(policy: OriginPolicy, origin: string, host: string): boolean {
  if (origin === '' || policy.kind === 'any') return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch (error) {
    if (error instanceof TypeError) return false;
    throw error;
  }
  if (sameHost(url, host)) return true;
  return policy.kind === 'list' && policy.origins.has(url.origin);
}

/** Host header and Origin name the same host, default ports and case aside (a proxy may write `host:443`). */
function sameHost(origin: URL, host: string): boolean {
  try {
    return new URL(`${origin.protocol}//${host}`).host === origin.host;
  } catch (error) {
    if (error instanceof TypeError) return false;
    throw error;
  }
}
