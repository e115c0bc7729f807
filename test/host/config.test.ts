/** The host's command line: --help, bad values, environment fallbacks, the native-uWS check, a taken port. */
import { createServer, type Server } from 'node:net';
import { describe, expect, test, type ExpectStatic } from 'vitest';
import { OPTIONS } from '../../src/config.js';
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
    [['--cert', 'test/fixtures/tls/cert.pem'], '--key'],
    [['--cert', 'no-such-cert.pem', '--key', 'test/fixtures/tls/key.pem'], '--cert'],
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
