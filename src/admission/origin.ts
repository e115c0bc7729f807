/**
 * Which web pages may open a WebSocket to the host. Browsers send Origin on every
 * WebSocket upgrade; other clients (terminal client, bots) usually send none, and
 * are not what an origin check protects against.
 *
 * The Host header is never trusted: a DNS-rebinding page (http://evil.example:8080,
 * whose name the attacker re-points at this machine) sends Host and Origin that agree.
 * The host's own pages are recognised by names an attacker cannot re-point: loopback
 * and this machine's addresses, or the --public-origin the operator names.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';

export type OriginPolicy =
  /** Only pages served by this host (see OriginCheck). */
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
  return { kind: 'list', origins: new Set(items.map(parseOrigin)) };
}

/** Parses --public-origin: '' (none) or one http(s) origin; returns it normalised (lower case, no default port). */
export function parsePublicOrigin(text: string): string {
  if (text.trim() === '') return '';
  const origin = parseOrigin(text.trim());
  if (!origin.startsWith('http://') && !origin.startsWith('https://')) {
    throw new Error(`"${text}" is not an http:// or https:// origin like https://chat.example.com`);
  }
  return origin;
}

/** One origin written by an operator: scheme://host[:port], nothing after it. */
function parseOrigin(item: string): string {
  let url: URL;
  try {
    url = new URL(item);
  } catch (error) {
    throw new Error(`"${item}" is not an origin like https://chat.example.com (${(error as Error).message})`);
  }
  if (url.origin === 'null' || url.pathname !== '/' || url.search || url.hash || item.endsWith('/')) {
    throw new Error(`"${item}" is not an origin like https://chat.example.com (no path, no trailing slash)`);
  }
  return url.origin;
}

/** This machine's addresses, for the default origin policy (read when asked: addresses come and go). */
export function machineAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
}

/** The host's own origin, as far as the default policy can know it without trusting Host. */
export interface OwnOrigin {
  /** 'https:' with --cert, else 'http:'. */
  readonly protocol: 'http:' | 'https:';
  /** The port the host listens on. */
  readonly port: number;
  /** This machine's addresses (os.networkInterfaces); asked only for an Origin that names an address that is not loopback. */
  readonly machineAddresses: () => Iterable<string>;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * The upgrade check. With a public origin: that origin and the listed ones. Without:
 * the listed ones and the host's own pages, i.e. an Origin with the host's scheme and
 * port whose host is `localhost`, a loopback address or an address of this machine.
 */
export class OriginCheck {
  private readonly listed: ReadonlySet<string>;

  constructor(
    private readonly policy: OriginPolicy,
    /** '' or the normalised --public-origin. */
    private readonly publicOrigin: string,
    private readonly own: OwnOrigin,
  ) {
    this.listed = policy.kind === 'list' ? policy.origins : new Set();
  }

  /** True when an upgrade with this Origin header (empty: none) may proceed. */
  allows(origin: string): boolean {
    if (origin === '' || this.policy.kind === 'any') return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch (error) {
      if (error instanceof TypeError) return false;
      throw error;
    }
    if (url.origin === 'null') return false;
    if (this.listed.has(url.origin)) return true;
    if (this.publicOrigin !== '') return url.origin === this.publicOrigin;
    return url.protocol === this.own.protocol && portOf(url) === this.own.port && this.isOwnHost(url.hostname);
  }

  private isOwnHost(hostname: string): boolean {
    if (hostname === 'localhost') return true;
    // The URL parser has normalised IPv4 (0x7f.1 is 127.0.0.1) and bracketed IPv6.
    const address = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
    if (family === null) return false;
    if (LOOPBACK.check(address, family)) return true;
    const machine = new BlockList();
    for (const own of this.own.machineAddresses()) {
      // Link-local addresses come with a zone (fe80::1%eth0), which no URL carries.
      const bare = own.split('%')[0] ?? own;
      if (isIPv4(bare)) machine.addAddress(bare, 'ipv4');
      else if (isIPv6(bare)) machine.addAddress(bare, 'ipv6');
    }
    return machine.check(address, family);
  }
}

function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}
