/**
 * The --redis URL, read into what ioredis is given. ioredis never sees the URL itself:
 * its parser throws a bare TypeError (with a stack) on a bad port, takes query
 * parameters as client options, and quietly reads redis:///path.sock as 127.0.0.1:6379.
 *
 *   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]   TCP; PORT 6379 and DB 0 unless given
 *   rediss://...                                 the same over TLS
 *   unix://[[USER]:PASSWORD@]/PATH[?db=DB]       a unix socket (absolute PATH)
 *
 * USER and PASSWORD are percent-decoded; HOST is a name, an IPv4 address or an IPv6
 * address in brackets. An error never quotes the password: it names the part that is
 * wrong and quotes the URL with its user information blanked out (redactRedisUrl).
 */
import type { RedisOptions } from 'ioredis';

export interface RedisTarget {
  readonly tls: boolean;
  /** '' for a unix socket. */
  readonly host: string;
  /** 0 for a unix socket. */
  readonly port: number;
  /** The socket's path; '' for TCP. */
  readonly path: string;
  /** The database index (SELECT): keys live in it; channels do not (pub/sub ignores it). */
  readonly db: number;
  /** '' when not given. */
  readonly username: string;
  readonly password: string;
}

export class RedisUrlError extends Error {
  override readonly name = 'RedisUrlError';
}

export const DEFAULT_REDIS_PORT = 6379;
/** Redis keeps the number of databases in an int. */
const MAX_DB = 2 ** 31 - 1;
const FORMS = 'redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://... or unix:///PATH[?db=DB]';

/** `text` with everything that may be user information (up to the last '@'), the query and the fragment blanked out. */
export function redactRedisUrl(text: string): string {
  const schemeEnd = text.indexOf('://');
  const start = schemeEnd === -1 ? 0 : schemeEnd + 3;
  let rest = text.slice(start);
  const at = rest.lastIndexOf('@');
  if (at !== -1) rest = `***${rest.slice(at)}`;
  const cut = rest.search(/[?#]/);
  if (cut !== -1) rest = `${rest.slice(0, cut)}${rest[cut]}...`;
  return `${text.slice(0, start)}${rest}`;
}

/** Reads a --redis URL; throws RedisUrlError with a one-line reason that never holds the password. */
export function parseRedisUrl(text: string): RedisTarget {
  const fail = (reason: string): never => {
    throw new RedisUrlError(`${reason} in "${redactRedisUrl(text)}" (expected ${FORMS})`);
  };
  if (/\s/.test(text)) fail('white space');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  if (!scheme) fail('no scheme');
  const kind = scheme![1]!.toLowerCase();
  if (kind !== 'redis' && kind !== 'rediss' && kind !== 'unix') fail(`unknown scheme "${kind}"`);
  let rest = text.slice(scheme![0].length);
  if (rest.includes('#')) fail('a fragment (#...)');

  // User information ends at the last '@' (TCP: a host and a db hold none) or, for a
  // socket, at the '@' before the path.
  let userinfo = '';
  const at = kind === 'unix' ? (rest.startsWith('/') ? -1 : rest.indexOf('@/')) : rest.lastIndexOf('@');
  if (at !== -1) {
    userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  const colon = userinfo.indexOf(':');
  let username = colon === -1 ? userinfo : userinfo.slice(0, colon);
  let password = colon === -1 ? '' : userinfo.slice(colon + 1);
  try {
    username = decodeURIComponent(username);
    password = decodeURIComponent(password);
  } catch {
    // The reason alone: the message must not hold the password.
    fail('user or password not percent-encoded properly');
  }

  const questionMark = rest.indexOf('?');
  const query = questionMark === -1 ? '' : rest.slice(questionMark + 1);
  rest = questionMark === -1 ? rest : rest.slice(0, questionMark);

  if (kind === 'unix') {
    if (!rest.startsWith('/') || rest.length < 2) fail('no absolute socket path (unix:///path/to/redis.sock)');
    let db = 0;
    for (const [key, value] of new URLSearchParams(query)) {
      if (key !== 'db') fail(`unsupported query parameter "${key}" (only db)`);
      db = dbIndex(value, fail);
    }
    return { tls: false, host: '', port: 0, path: decodePath(rest, fail), db, username, password };
  }

  if (query !== '') fail('query parameters are not supported (the database goes in the path: /DB)');
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash + 1);
  const hostPort = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]*)(?::(.*))?$/.exec(authority);
  if (!hostPort) fail(`bad host "${authority}"`);
  const host = hostPort![1]!;
  if (host === '') fail(path === '' ? 'no host' : 'no host (for a unix socket use unix:///path/to/redis.sock)');
  let port = DEFAULT_REDIS_PORT;
  const portText = hostPort![2];
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) fail(`port "${portText}" is not a number 1-65535`);
    port = Number(portText);
  }
  const db = path === '' ? 0 : dbIndex(path, fail);
  return { tls: kind === 'rediss', host: host.startsWith('[') ? host.slice(1, -1) : host, port, path: '', db, username, password };
}

function dbIndex(text: string, fail: (reason: string) => never): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > MAX_DB) fail(`database "${text}" is not a number 0-${MAX_DB}`);
  return Number(text);
}

function decodePath(path: string, fail: (reason: string) => never): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return fail('socket path not percent-encoded properly');
  }
}

/** The target for logs: never the password (nor the user). */
export function describeRedisTarget(target: RedisTarget): string {
  const credentials = target.username !== '' || target.password !== '' ? '***@' : '';
  if (target.path !== '') return `unix://${credentials}${target.path}${target.db === 0 ? '' : `?db=${target.db}`}`;
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${target.tls ? 'rediss' : 'redis'}://${credentials}${host}:${target.port}/${target.db}`;
}

/** Where and as whom ioredis connects. */
export function connectionOptions(target: RedisTarget): RedisOptions {
  const where: RedisOptions = target.path !== '' ? { path: target.path } : { host: target.host, port: target.port };
  const who: RedisOptions = {};
  if (target.username !== '') who.username = target.username;
  if (target.password !== '') who.password = target.password;
  return { ...where, ...who, db: target.db, ...(target.tls ? { tls: {} } : {}) };
}
