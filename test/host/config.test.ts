/**
 * The host's command line: --help, bad values, environment fallbacks, limits that must fit
 * together, TLS files checked at start (and the https:// banner), the native-uWS check, a taken port.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test, type ExpectStatic } from 'vitest';
import { OPTIONS } from '../../src/config.js';
import { TestClient } from '../helpers/client.js';
import { runHost, startHost, waitForJson } from '../helpers/host.js';

// The hosts inherit this process's environment: only the variables a test sets may apply.
for (const o of OPTIONS) {
  if (process.env[o.env] !== undefined) throw new Error(`unset ${o.env} before running these tests`);
}

/** The only line of `stderr`; `check` is the calling test's expect (concurrent tests pass their own). */
function oneLine(stderr: string, check: ExpectStatic = expect): string {
  const lines = stderr.split('\n').filter((l) => l.length > 0);
  check(lines, `stderr: ${JSON.stringify(stderr)}`).toHaveLength(1);
  return lines[0]!;
}

describe('--help', () => {
  test('exits 0 and lists every option with its environment variable', async () => {
    const { code, stdout, stderr } = await runHost(['--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    const lines = stdout.split('\n');
    expect(OPTIONS.length).toBeGreaterThan(10);
    for (const o of OPTIONS) {
      const line = lines.find((l) => new RegExp(`^\\s+--${o.flag}(\\s|$)`).test(l));
      expect(line, `--${o.flag} in --help`).toBeDefined();
      expect(line).toContain(`[${o.env}]`);
      expect(line).toContain(o.help);
    }
    expect(lines.some((l) => /^\s+--help(\s|$)/.test(l))).toBe(true);
  });

  test('--help wins over otherwise bad values', async () => {
    const { code, stdout } = await runHost(['--port', 'abc', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('--port');
  });
});

describe('bad values exit 2 with one line naming the flag', () => {
  test.concurrent.for([
    [['--port', 'abc'], '--port'],
    [['--port', '70000'], '--port'],
    [['--port', '-1'], '--port'],
    [['--port', '1.5'], '--port'],
    [['--workers', '0'], '--workers'],
    [['--history', '-1'], '--history'],
    [['--history=-1'], '--history'],
    [['--idle-timeout', '7'], '--idle-timeout'],
    [['--log-level', 'loud'], '--log-level'],
    [['--host', ''], '--host'],
    [['--nope'], '--nope'],
    [['--join-history', '200', '--history', '100'], '--join-history'],
    [['--allow-js-fallback=maybe'], '--allow-js-fallback'],
    [['--redis', 'localhost:6379'], '--redis'],
    [['--redis', ''], '--redis'],
    [['--node-ttl', '1'], '--node-ttl'],
    [['extra-positional'], 'extra-positional'],
    [['--rate-limit', '0'], '--rate-limit'],
    [['--max-connections-per-ip', 'many'], '--max-connections-per-ip'],
    [['--allowed-origins', 'chat.example.com'], '--allowed-origins'],
    [['--allowed-origins', '*,https://a.example'], '--allowed-origins'],
    [['--allowed-origins', 'https://a.example/path'], '--allowed-origins'],
    [['--token-secret', 'too-short'], '--token-secret'],
    [['--token-max-lifetime', '59'], '--token-max-lifetime'],
    [['--token-max-lifetime', '1e308'], '--token-max-lifetime'],
    [['--cert', 'test/fixtures/tls/cert.pem'], '--key'],
    [['--cert', 'no-such-cert.pem', '--key', 'test/fixtures/tls/key.pem'], '--cert'],
    [['--public-origin', 'chat.example.com'], '--public-origin'],
    [['--public-origin', 'https://chat.example.com/'], '--public-origin'],
    [['--public-origin', 'ws://chat.example.com'], '--public-origin'],
    [['--max-text', '5000'], '--max-text'],
    [['--max-frame', '4096'], '--max-text'],
  ] as const)('%j names %s', async ([args, flag], { expect }) => {
    // Each runs its own short-lived process: concurrently, with the test's own expect.
    const { code, stdout, stderr } = await runHost([...args]);
    expect(code).toBe(2);
    expect(oneLine(stderr, expect)).toContain(flag);
    expect(stdout).not.toContain('listening');
  });
});

describe('environment fallbacks', () => {
  test('a bad CHAT_PORT names the variable and the flag', async () => {
    const { code, stderr } = await runHost([], { CHAT_PORT: 'abc' });
    expect(code).toBe(2);
    const line = oneLine(stderr);
    expect(line).toContain('CHAT_PORT');
    expect(line).toContain('--port');
  });

  test.each([
    ['CHAT_WORKERS', '0', '--workers'],
    ['CHAT_LOG_LEVEL', 'loud', '--log-level'],
    ['CHAT_ALLOW_JS_FALLBACK', 'maybe', '--allow-js-fallback'],
  ])('a bad %s=%s names the variable and %s', async (env, value, flag) => {
    const { code, stderr } = await runHost(['--port', '0'], { [env]: value });
    expect(code).toBe(2);
    const line = oneLine(stderr);
    expect(line).toContain(env);
    expect(line).toContain(flag);
  });

  test('the join-history/history check applies to values from the environment', async () => {
    const { code, stderr } = await runHost(['--port', '0'], { CHAT_HISTORY: '5', CHAT_JOIN_HISTORY: '6' });
    expect(code).toBe(2);
    expect(oneLine(stderr)).toContain('--join-history');
  });

  test('a flag overrides its environment variable; other variables still apply', async () => {
    // startHost passes --port 0, which must win over the bad CHAT_PORT.
    const host = await startHost([], { CHAT_PORT: 'abc', CHAT_WORKERS: '3' });
    try {
      expect(host.port).toBeGreaterThan(0);
      const health = await waitForJson<{ status: string; workers: number }>(`${host.http}/healthz`, (h) => h.workers === 3);
      expect(health).toMatchObject({ status: 'ok', workers: 3 });
    } finally {
      const exit = await host.stop();
      expect(exit.code).toBe(0);
    }
  });
});

describe('--max-text must fit in --max-frame', () => {
  /** The numbers the refusal suggests: the frame that --max-text needs, and the text that fits the frame. */
  async function refusal(args: string[]): Promise<{ line: string; frame: number; text: number }> {
    const { code, stdout, stderr } = await runHost(args);
    expect(code).toBe(2);
    expect(stdout).not.toContain('listening');
    const line = oneLine(stderr);
    const match = /raise --max-frame to (\d+) or lower --max-text to (\d+)$/.exec(line);
    expect(match, line).not.toBeNull();
    return { line, frame: Number(match![1]), text: Number(match![2]) };
  }

  /** Starts a host with these limits and says the largest legal text: `chars` 4-byte emoji in a room with the longest name. */
  async function largestTextIsSent(args: string[], chars: number): Promise<void> {
    const host = await startHost(['--workers', '1', ...args]);
    try {
      const room = 'r'.repeat(64);
      const ann = await TestClient.connect(host.ws);
      const bob = await TestClient.connect(host.ws);
      await ann.join(room, 'ann');
      await bob.join(room, 'bob');
      const text = '\u{1f600}'.repeat(chars);
      expect((await ann.say(room, text)).seq).toBe(1);
      // A private one carries the recipient's id too.
      await ann.say(room, text, bob.id);
      expect((await bob.next('message')).text).toBe(text);
      expect((await bob.next('message')).text).toBe(text);
      await Promise.all([ann.close(), bob.close()]);
    } finally {
      expect((await host.stop()).code).toBe(0);
    }
  }

  test('5,000 characters do not fit the default 16 KiB frame: exit 2 naming both flags', async () => {
    const { line, frame, text } = await refusal(['--max-text', '5000']);
    expect(line).toMatch(/^chat-host: invalid --max-text: 5000 characters .* over --max-frame 16384;/);
    expect(frame).toBeGreaterThan(5000 * 4);
    expect(text).toBeLessThan(16384 / 4);
  });

  test('the frame the refusal asks for carries 5,000 emoji, as a room and as a private message', async () => {
    const { frame } = await refusal(['--max-text', '5000']);
    await largestTextIsSent(['--max-text', '5000', '--max-frame', String(frame)], 5000);
    await refusal(['--max-text', '5000', '--max-frame', String(frame - 1)]);
  });

  test('the text the refusal offers fits the default frame; one character more does not', async () => {
    const { text } = await refusal(['--max-text', '5000']);
    await largestTextIsSent(['--max-text', String(text)], text);
    await refusal(['--max-text', String(text + 1)]);
  });

  test('the check applies to values from the environment', async () => {
    const { code, stderr } = await runHost(['--port', '0'], { CHAT_MAX_TEXT: '3000', CHAT_MAX_FRAME: '8192' });
    expect(code).toBe(2);
    expect(oneLine(stderr)).toContain('invalid --max-text: 3000 characters');
  });
});

describe('TLS files', () => {
  const fixtures = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
  const cert = `${fixtures}cert.pem`;
  const key = `${fixtures}key.pem`;
  let dir: string;
  const files = { garbage: '', empty: '', otherKey: '', folder: '' };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'chat-pem-'));
    files.garbage = join(dir, 'garbage.pem');
    files.empty = join(dir, 'empty.pem');
    files.otherKey = join(dir, 'other-key.pem');
    files.folder = join(dir, 'folder.pem');
    writeFileSync(files.garbage, '-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n');
    writeFileSync(files.empty, '');
    writeFileSync(files.otherKey, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    mkdirSync(files.folder);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a TLS host says https:// when it starts listening', async () => {
    const host = await startHost(['--workers', '2', '--cert', cert, '--key', key]);
    try {
      const banner = await host.waitForLog((l) => String(l.msg).startsWith('chat host listening'));
      expect(banner.msg).toBe(`chat host listening on https://127.0.0.1:${host.port}`);
      expect(banner.tls).toBe(true);
    } finally {
      expect((await host.stop()).code).toBe(0);
    }
  });

  test.concurrent.for([
    ['a certificate that does not parse', () => ['--cert', files.garbage, '--key', key], '--cert', () => files.garbage, /is not a PEM certificate/],
    ['an empty certificate file', () => ['--cert', files.empty, '--key', key], '--cert', () => files.empty, /is not a PEM certificate/],
    ['a key given as the certificate', () => ['--cert', key, '--key', key], '--cert', () => key, /is not a PEM certificate/],
    ['a folder as the certificate', () => ['--cert', files.folder, '--key', key], '--cert', () => files.folder, /cannot read/],
    ['a key that does not parse', () => ['--cert', cert, '--key', files.garbage], '--key', () => files.garbage, /is not an unencrypted PEM private key/],
    ['the certificate given as the key', () => ['--cert', cert, '--key', cert], '--key', () => cert, /is not an unencrypted PEM private key/],
    [
      'the key of another certificate',
      () => ['--cert', cert, '--key', files.otherKey],
      '--key',
      () => files.otherKey,
      /is not the private key of the certificate/,
    ],
  ] as const)('%s: exit 2, one line naming the flag and the file, no stack', async ([, args, flag, file, reason], { expect }) => {
    const { code, stdout, stderr } = await runHost(['--host', '127.0.0.1', '--port', '0', ...args()]);
    expect(code).toBe(2);
    const line = oneLine(stderr, expect);
    expect(line).toMatch(new RegExp(`^chat-host: invalid ${flag}: `));
    expect(line).toContain(`"${file()}"`);
    expect(line).toMatch(reason);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).not.toContain('listening');
  });
});

describe('uWebSockets.js native binary', () => {
  test('the host refuses to start on the pure-JS fallback', async () => {
    // UWS_USE_FALLBACK makes the uWS loader return its JS imitation instead of the binary.
    const { code, stdout, stderr } = await runHost(['--host', '127.0.0.1', '--port', '0'], { UWS_USE_FALLBACK: '1' });
    expect(code).toBe(2);
    const line = oneLine(stderr);
    expect(line).toContain('native');
    expect(line).toContain('--allow-js-fallback');
    expect(stdout).not.toContain('listening');
  });

  test('with --allow-js-fallback the host starts on the fallback, says so loudly, and stops cleanly', async () => {
    const host = await startHost(['--workers', '1', '--allow-js-fallback'], { UWS_USE_FALLBACK: '1' });
    try {
      const health = await waitForJson<{ status: string; workers: number }>(`${host.http}/healthz`, (h) => h.workers === 1);
      expect(health.status).toBe('ok');
      expect(host.logs.some((l) => l.level === 40 && /SLOW PURE-JS/.test(String(l.msg)))).toBe(true);
    } finally {
      expect((await host.stop()).code).toBe(0);
    }
  });
});

describe('a port taken by another program', () => {
  test('the host exits non-zero with one line saying it cannot listen', async () => {
    // A plain net server: no SO_REUSEPORT, so uWS cannot share its port.
    const blocker: Server = createServer();
    await new Promise<void>((resolve, reject) => blocker.once('error', reject).listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as { port: number }).port;
      const { code, stderr } = await runHost(['--host', '127.0.0.1', '--port', String(port), '--workers', '2']);
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      const line = oneLine(stderr);
      expect(line).toContain('cannot listen');
      expect(line).toContain(String(port));
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
