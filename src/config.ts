/**
 * The host's configuration: command-line flags with environment fallbacks,
 * validated once at start into one frozen object. A bad value stops the host
 * with a one-line message naming the flag.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { defaultMaxConnections, openFileLimit } from './admission/connection-limits.js';
import { parseOriginPolicy, parsePublicOrigin } from './admission/origin.js';
import { DEFAULT_TOKEN_MAX_LIFETIME_SECONDS } from './admission/token.js';
import { DEFAULT_MAX_FRAME_BYTES, encodeClientRequest, MAX_TEXT_CHARS } from './protocol/index.js';
import { parseRedisUrl, RedisUrlError } from './sequencer/redis/target.js';
import { cpuBudget } from './workers/cpu-budget.js';

export interface Config {
  readonly host: string;
  readonly port: number;
  /** The workerman-chat listener's port (0: any free port); -1: off. */
  readonly compatPort: number;
  readonly workers: number;
  readonly historySize: number;
  readonly joinHistory: number;
  /** Rooms with more members than this get presence counts only, no names. */
  readonly presenceEventsMaxMembers: number;
  readonly emptyRoomTtlSeconds: number;
  readonly idleTimeoutSeconds: number;
  readonly maxRooms: number;
  /** Rooms the host (or the cluster) holds at most. */
  readonly maxRoomsTotal: number;
  /** New rooms one address may make a minute. */
  readonly newRoomsPerMinute: number;
  /** Requests a second all connections from one address may make together. */
  readonly rateLimitPerIp: number;
  /** Keep HTTP connections open after an answer (uWS never times an idle one out). */
  readonly httpKeepAlive: boolean;
  readonly maxFrameBytes: number;
  readonly maxTextChars: number;
  readonly maxBackpressureBytes: number;
  readonly rateLimit: number;
  readonly rateBurst: number;
  readonly rateAbuseSeconds: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  /** '' (same origin only), '*' or a comma-separated list of origins. */
  readonly allowedOrigins: string;
  /** '' or the origin users reach the host at (normalised); when set, the only own origin pages may have. */
  readonly publicOrigin: string;
  /** '' when joins need no token. */
  readonly tokenSecret: string;
  /** With --token-secret: the furthest a token's `exp` may be from now, seconds. */
  readonly tokenMaxLifetimeSeconds: number;
  /** PEM files; both '' for plain HTTP/WS. */
  readonly certFile: string;
  readonly keyFile: string;
  readonly shutdownGraceMs: number;
  /** V8's young generation per worker thread, MB (0: V8's default, which grows to 32 MB). */
  readonly workerYoungMb: number;
  readonly publicDir: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly allowJsFallback: boolean;
  readonly faultInjection: boolean;
  /** redis://, rediss:// or unix:// URL of the cluster's Redis (checked: see parseRedisUrl); '' runs a single node with no outside service. */
  readonly redisUrl: string;
  /** Names the cluster in every Redis key and channel (with the db index), so that clusters sharing a Redis stay apart. */
  readonly clusterName: string;
  /** Seconds a node's heartbeat lives: a node silent this long has its members removed by the others. */
  readonly nodeTtlSeconds: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Kind = 'string' | 'integer' | 'boolean';

interface Option {
  readonly key: keyof Config;
  readonly flag: string;
  readonly env: string;
  readonly kind: Kind;
  readonly help: string;
  readonly default: () => string | number | boolean;
  readonly min?: number;
  readonly max?: number;
  readonly choices?: readonly string[];
  /** A string option that may be set to '' (its default is ''). */
  readonly allowEmpty?: boolean;
}

const defaultPublicDir = resolve(fileURLToPath(new URL('../public', import.meta.url)));

// biome-ignore format: a table, one option per line
export const OPTIONS: readonly Option[] = [
  { key: 'host', flag: 'host', env: 'CHAT_HOST', kind: 'string', help: 'address to listen on', default: () => '0.0.0.0' },
  { key: 'port', flag: 'port', env: 'CHAT_PORT', kind: 'integer', help: 'port to listen on (0: any free port)', default: () => 8080, min: 0, max: 65535 },
  { key: 'compatPort', flag: 'compat-port', env: 'CHAT_COMPAT_PORT', kind: 'integer', help: 'also speak the workerman-chat JSON protocol on this port (its clients use 7272; 0: any free port)', default: () => -1, min: 0, max: 65535 },
  { key: 'workers', flag: 'workers', env: 'CHAT_WORKERS', kind: 'integer', help: 'worker threads, each with its own uWS app on the port', default: () => cpuBudget().workers, min: 1, max: 256 },
  { key: 'historySize', flag: 'history', env: 'CHAT_HISTORY', kind: 'integer', help: 'room messages kept in memory per room', default: () => 100, min: 0, max: 100_000 },
  { key: 'joinHistory', flag: 'join-history', env: 'CHAT_JOIN_HISTORY', kind: 'integer', help: 'recent messages sent with a join', default: () => 50, min: 0, max: 100_000 },
  { key: 'presenceEventsMaxMembers', flag: 'presence-events-max-members', env: 'CHAT_PRESENCE_EVENTS_MAX_MEMBERS', kind: 'integer', help: 'rooms with more members get presence counts only (who joined and left: ask for member pages)', default: () => 1000, min: 0, max: 1_000_000 },
  { key: 'emptyRoomTtlSeconds', flag: 'empty-room-ttl', env: 'CHAT_EMPTY_ROOM_TTL', kind: 'integer', help: 'seconds an empty room keeps its history', default: () => 600, min: 0, max: 30 * 86_400 },
  { key: 'idleTimeoutSeconds', flag: 'idle-timeout', env: 'CHAT_IDLE_TIMEOUT', kind: 'integer', help: 'seconds of silence before a connection is closed (pings are automatic)', default: () => 120, min: 8, max: 960 },
  { key: 'maxRooms', flag: 'max-rooms', env: 'CHAT_MAX_ROOMS', kind: 'integer', help: 'rooms one connection may be in', default: () => 16, min: 1, max: 1000 },
  { key: 'maxRoomsTotal', flag: 'max-rooms-total', env: 'CHAT_MAX_ROOMS_TOTAL', kind: 'integer', help: 'rooms the host (the cluster, with --redis) holds at most, empty ones with history included (more: RoomLimit)', default: () => 10_000, min: 1, max: 10_000_000 },
  { key: 'newRoomsPerMinute', flag: 'new-rooms-per-minute', env: 'CHAT_NEW_ROOMS_PER_MINUTE', kind: 'integer', help: 'new rooms one address may make a minute (more: RateLimited)', default: () => 30, min: 1, max: 1_000_000_000 },
  { key: 'maxFrameBytes', flag: 'max-frame', env: 'CHAT_MAX_FRAME', kind: 'integer', help: 'largest frame a client may send, bytes', default: () => DEFAULT_MAX_FRAME_BYTES, min: 1024, max: 1 << 20 },
  { key: 'maxTextChars', flag: 'max-text', env: 'CHAT_MAX_TEXT', kind: 'integer', help: 'longest message text, characters', default: () => MAX_TEXT_CHARS, min: 1, max: 65_535 },
  { key: 'maxBackpressureBytes', flag: 'max-backpressure', env: 'CHAT_MAX_BACKPRESSURE', kind: 'integer', help: 'bytes buffered for a slow reader before it is closed', default: () => 1 << 20, min: 64 * 1024, max: 1 << 30 },
  { key: 'rateLimit', flag: 'rate-limit', env: 'CHAT_RATE_LIMIT', kind: 'integer', help: 'requests per second one connection may make on average', default: () => 20, min: 1, max: 1_000_000_000 },
  { key: 'rateBurst', flag: 'rate-burst', env: 'CHAT_RATE_BURST', kind: 'integer', help: 'requests one connection may make at once', default: () => 40, min: 1, max: 1_000_000_000 },
  { key: 'rateLimitPerIp', flag: 'rate-limit-per-ip', env: 'CHAT_RATE_LIMIT_PER_IP', kind: 'integer', help: 'requests per second all connections from one address may make together', default: () => 100, min: 1, max: 1_000_000_000 },
  { key: 'rateAbuseSeconds', flag: 'rate-abuse-seconds', env: 'CHAT_RATE_ABUSE_SECONDS', kind: 'integer', help: 'seconds over the rate limit before the connection is closed (1008)', default: () => 10, min: 1, max: 3600 },
  { key: 'maxConnections', flag: 'max-connections', env: 'CHAT_MAX_CONNECTIONS', kind: 'integer', help: 'WebSocket connections in all (more get HTTP 503)', default: () => defaultMaxConnections(openFileLimit()), min: 1, max: 10_000_000 },
  { key: 'maxConnectionsPerIp', flag: 'max-connections-per-ip', env: 'CHAT_MAX_CONNECTIONS_PER_IP', kind: 'integer', help: 'WebSocket connections from one address (more get HTTP 429)', default: () => 200, min: 1, max: 10_000_000 },
  { key: 'httpKeepAlive', flag: 'http-keep-alive', env: 'CHAT_HTTP_KEEP_ALIVE', kind: 'boolean', help: 'keep HTTP connections open after an answer (uWS never closes an idle one: only behind a proxy that bounds connections)', default: () => false },
  { key: 'allowedOrigins', flag: 'allowed-origins', env: 'CHAT_ALLOWED_ORIGINS', kind: 'string', help: 'origins whose pages may connect, comma-separated, or * for any (empty: this host only)', default: () => '', allowEmpty: true },
  { key: 'publicOrigin', flag: 'public-origin', env: 'CHAT_PUBLIC_ORIGIN', kind: 'string', help: 'the origin users reach the host at, e.g. https://chat.example.com: the only own origin pages may have (none: localhost and this machine\'s addresses)', default: () => '', allowEmpty: true },
  { key: 'tokenSecret', flag: 'token-secret', env: 'CHAT_TOKEN_SECRET', kind: 'string', help: 'HS256 secret (32+ characters); when set, every join needs a signed token', default: () => '', allowEmpty: true },
  { key: 'tokenMaxLifetimeSeconds', flag: 'token-max-lifetime', env: 'CHAT_TOKEN_MAX_LIFETIME', kind: 'integer', help: 'longest a join token may live: its exp at most this many seconds from now (with --token-secret)', default: () => DEFAULT_TOKEN_MAX_LIFETIME_SECONDS, min: 60, max: 365 * 86_400 },
  { key: 'certFile', flag: 'cert', env: 'CHAT_TLS_CERT', kind: 'string', help: 'TLS certificate chain (PEM): serve HTTPS and WSS', default: () => '', allowEmpty: true },
  { key: 'keyFile', flag: 'key', env: 'CHAT_TLS_KEY', kind: 'string', help: 'TLS private key (PEM), with --cert', default: () => '', allowEmpty: true },
  { key: 'shutdownGraceMs', flag: 'shutdown-grace', env: 'CHAT_SHUTDOWN_GRACE', kind: 'integer', help: 'milliseconds clients get to finish closing on shutdown', default: () => 500, min: 0, max: 4000 },
  { key: 'workerYoungMb', flag: 'worker-young-mb', env: 'CHAT_WORKER_YOUNG_MB', kind: 'integer', help: "V8 young generation per worker thread, MB (0: V8's default, up to 32 MB each)", default: () => 4, min: 0, max: 256 },
  { key: 'publicDir', flag: 'public-dir', env: 'CHAT_PUBLIC_DIR', kind: 'string', help: 'folder of static files served over HTTP', default: () => defaultPublicDir },
  { key: 'logLevel', flag: 'log-level', env: 'CHAT_LOG_LEVEL', kind: 'string', help: 'fatal, error, warn, info, debug, trace or silent', default: () => 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
  { key: 'allowJsFallback', flag: 'allow-js-fallback', env: 'CHAT_ALLOW_JS_FALLBACK', kind: 'boolean', help: "run on uWS's slow pure-JS imitation if the native binary does not load", default: () => false },
  { key: 'redisUrl', flag: 'redis', env: 'REDIS_URL', kind: 'string', help: 'the Redis a cluster of nodes shares: redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://... (TLS) or unix:///PATH[?db=DB] (none: a single node)', default: () => '' },
  { key: 'clusterName', flag: 'cluster-name', env: 'CHAT_CLUSTER_NAME', kind: 'string', help: 'the cluster\'s name, in every Redis key and channel with the db index: clusters sharing a Redis need different names or db indexes (1-64 of A-Z a-z 0-9 _ . -)', default: () => 'chat' },
  { key: 'nodeTtlSeconds', flag: 'node-ttl', env: 'CHAT_NODE_TTL', kind: 'integer', help: 'seconds after which a silent node\'s members are removed by the others (with --redis)', default: () => 20, min: 2, max: 600 },
  { key: 'faultInjection', flag: 'fault-injection', env: 'CHAT_FAULT_INJECTION', kind: 'boolean', help: 'enable POST /debug/crash-worker (tests only)', default: () => false },
];

export function helpText(): string {
  const lines = ['Usage: npm start -- [options]', '', 'Options (environment variable in brackets):'];
  for (const o of OPTIONS) {
    const value = o.kind === 'boolean' ? '' : o.kind === 'integer' ? ' N' : ' VALUE';
    const def =
      o.key === 'workers'
        ? `CPUs, or the cgroup CPU quota rounded down when lower: ${String(o.default())}`
        : o.key === 'maxConnections'
          ? `open-file limit less a margin: ${String(o.default())}`
          : o.allowEmpty || o.key === 'redisUrl' || o.key === 'compatPort'
            ? 'none'
            : String(o.default());
    lines.push(`  --${o.flag}${value}`.padEnd(30) + `${o.help} [${o.env}] (default: ${def})`);
  }
  lines.push('  --help'.padEnd(30) + 'show this help');
  return lines.join('\n');
}

function parseValue(o: Option, raw: string | boolean, source: string): string | number | boolean {
  const where = source === 'flag' ? `--${o.flag}` : `${o.env} (for --${o.flag})`;
  if (o.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off|)$/i.test(raw)) return false;
    throw new ConfigError(`invalid ${where}: expected true or false, got "${raw}"`);
  }
  const text = String(raw);
  if (o.kind === 'integer') {
    if (!/^\d+$/.test(text)) throw new ConfigError(`invalid ${where}: expected a whole number, got "${text}"`);
    const n = Number(text);
    if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
      throw new ConfigError(`invalid ${where}: ${n} is outside ${o.min}-${o.max}`);
    }
    return n;
  }
  if (o.choices && !o.choices.includes(text)) throw new ConfigError(`invalid ${where}: expected one of ${o.choices.join(', ')}, got "${text}"`);
  if (text.length === 0 && !o.allowEmpty) throw new ConfigError(`invalid ${where}: must not be empty`);
  return text;
}

/** Parses argv and env; returns null when --help was asked for. Throws ConfigError. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Config | null {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const o of OPTIONS) options[o.flag] = { type: o.kind === 'boolean' ? 'boolean' : 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new ConfigError((error as Error).message.split('\n')[0] ?? 'invalid arguments');
  }
  if (values.help) return null;
  const config: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    const flag = values[o.flag];
    const fromEnv = env[o.env];
    config[o.key] = flag !== undefined ? parseValue(o, flag, 'flag') : fromEnv !== undefined ? parseValue(o, fromEnv, 'env') : o.default();
  }
  const result = config as unknown as Config;
  if (result.joinHistory > result.historySize) {
    throw new ConfigError(`invalid --join-history: ${result.joinHistory} is more than --history ${result.historySize}`);
  }
  if (result.redisUrl !== '') {
    try {
      parseRedisUrl(result.redisUrl);
    } catch (error) {
      if (!(error instanceof RedisUrlError)) throw error;
      throw new ConfigError(`invalid --redis: ${error.message}`);
    }
  }
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(result.clusterName)) {
    throw new ConfigError(`invalid --cluster-name: expected 1-64 of A-Z a-z 0-9 _ . -, got "${result.clusterName}"`);
  }
  try {
    parseOriginPolicy(result.allowedOrigins);
  } catch (error) {
    throw new ConfigError(`invalid --allowed-origins: ${(error as Error).message}`);
  }
  let publicOrigin: string;
  try {
    publicOrigin = parsePublicOrigin(result.publicOrigin);
  } catch (error) {
    throw new ConfigError(`invalid --public-origin: ${(error as Error).message}`);
  }
  checkTextFitsFrame(result.maxTextChars, result.maxFrameBytes);
  if (result.tokenSecret !== '' && Buffer.byteLength(result.tokenSecret) < 32) {
    throw new ConfigError('invalid --token-secret: use at least 32 characters (HS256 needs a 256-bit key)');
  }
  if (result.compatPort > 0 && result.compatPort === result.port) {
    throw new ConfigError(`invalid --compat-port: ${result.compatPort} is --port too; the workerman-chat listener needs a port of its own`);
  }
  if (result.compatPort >= 0 && result.tokenSecret !== '') {
    throw new ConfigError('--compat-port cannot go with --token-secret: workerman-chat clients have no way to send a join token');
  }
  if ((result.certFile === '') !== (result.keyFile === '')) throw new ConfigError('--cert and --key go together: give both or neither');
  for (const [flag, file] of [
    ['--cert', result.certFile],
    ['--key', result.keyFile],
  ] as const) {
    if (file !== '' && !existsSync(file)) throw new ConfigError(`invalid ${flag}: no such file "${file}"`);
  }
  if (result.certFile !== '') checkTlsFiles(result.certFile, result.keyFile);
  const tls = (file: string): string => (file === '' ? '' : resolve(file));
  return Object.freeze({ ...result, publicOrigin, publicDir: resolve(result.publicDir), certFile: tls(result.certFile), keyFile: tls(result.keyFile) });
}

/** The longest connection id the host hands out (node.incarnation.counter, each part at most 2^53 in base 36). */
const LONGEST_MEMBER_ID = `${'f'.repeat(8)}.${Number.MAX_SAFE_INTEGER.toString(36)}.${Number.MAX_SAFE_INTEGER.toString(36)}`;

/** Bytes of the largest legal Say frame: the longest room name, the longest id as `to`, and `bytes` of text. */
function largestSayFrame(textBytes: number): number {
  return encodeClientRequest({ type: 'say', requestId: 0xffffffff, room: 'r'.repeat(64), text: 'x'.repeat(textBytes), to: LONGEST_MEMBER_ID }).byteLength;
}

/**
 * A text of --max-text characters, each of up to 4 bytes of UTF-8, must fit in a --max-frame
 * Say frame: otherwise a legal message is closed 1009 instead of sent.
 */
function checkTextFitsFrame(maxTextChars: number, maxFrameBytes: number): void {
  const needed = largestSayFrame(maxTextChars * 4);
  if (needed <= maxFrameBytes) return;
  let fits = Math.max(0, Math.floor((maxFrameBytes - (needed - maxTextChars * 4)) / 4));
  while (fits > 0 && largestSayFrame(fits * 4) > maxFrameBytes) fits--;
  throw new ConfigError(
    `invalid --max-text: ${maxTextChars} characters (up to 4 bytes each) make a Say frame of up to ${needed} bytes, over --max-frame ${maxFrameBytes}; raise --max-frame to ${needed} or lower --max-text to ${fits}`,
  );
}

/** Both PEM files parse (and the key is the certificate's), so that a bad file is named here, not in a native stack. */
function checkTlsFiles(certFile: string, keyFile: string): void {
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new ConfigError(`invalid ${flag}: cannot read "${file}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  };
  const certPem = read('--cert', certFile);
  let cert: X509Certificate;
  try {
    // uWS reads PEM only; X509Certificate alone would also take DER.
    if (!certPem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no "BEGIN CERTIFICATE" block');
    cert = new X509Certificate(certPem);
  } catch (error) {
    throw new ConfigError(`invalid --cert: "${certFile}" is not a PEM certificate (${firstLine(error)})`);
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey({ key: read('--key', keyFile), format: 'pem' });
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`invalid --key: "${keyFile}" is not an unencrypted PEM private key (${firstLine(error)})`);
  }
  if (!cert.checkPrivateKey(key)) throw new ConfigError(`invalid --key: "${keyFile}" is not the private key of the certificate in --cert "${certFile}"`);
}

function firstLine(error: unknown): string {
  return ((error as Error).message ?? String(error)).split('\n')[0] ?? '';
}
