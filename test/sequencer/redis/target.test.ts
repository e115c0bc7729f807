/**
 * The --redis URL: every form the host takes, read into what ioredis is given, and every
 * malformed one refused with a one-line reason that never holds the password.
 */
import { describe, expect, test } from 'vitest';
import { connectionOptions, describeRedisTarget, parseRedisUrl, redactRedisUrl, RedisUrlError } from '../../../src/sequencer/redis/target.js';

const tcp = { tls: false, host: '127.0.0.1', port: 6379, path: '', db: 0, username: '', password: '' };

describe('parseRedisUrl', () => {
  test.each([
    ['redis://127.0.0.1', tcp],
    ['redis://127.0.0.1:7000', { ...tcp, port: 7000 }],
    ['redis://127.0.0.1:7000/', { ...tcp, port: 7000 }],
    ['redis://127.0.0.1:7000/15', { ...tcp, port: 7000, db: 15 }],
    ['REDIS://redis-1.internal_net:1/2147483647', { ...tcp, host: 'redis-1.internal_net', port: 1, db: 2147483647 }],
    ['rediss://cache.example.com:6380/1', { ...tcp, tls: true, host: 'cache.example.com', port: 6380, db: 1 }],
    ['redis://[::1]:7000/3', { ...tcp, host: '::1', port: 7000, db: 3 }],
    ['redis://:s3cret@127.0.0.1', { ...tcp, password: 's3cret' }],
    ['redis://chat:s3cret@127.0.0.1:7000/2', { ...tcp, port: 7000, db: 2, username: 'chat', password: 's3cret' }],
    // Percent-encoded user information, an '@' in the password included.
    ['redis://ch%40t:p%40ss%3Aw%2Fd@127.0.0.1', { ...tcp, username: 'ch@t', password: 'p@ss:w/d' }],
    ['unix:///run/redis/redis.sock', { ...tcp, host: '', port: 0, path: '/run/redis/redis.sock' }],
    ['unix:///run/redis/redis.sock?db=4', { ...tcp, host: '', port: 0, path: '/run/redis/redis.sock', db: 4 }],
    // Up to the last '@' is user information: a '/' in an unencoded password does not end it.
    ['redis://u:s3/cret@h:1', { ...tcp, host: 'h', port: 1, username: 'u', password: 's3/cret' }],
    ['unix://:s3cret@/tmp/a%20b.sock', { ...tcp, host: '', port: 0, path: '/tmp/a b.sock', password: 's3cret' }],
  ])('%s', (url, target) => {
    expect(parseRedisUrl(url)).toEqual(target);
  });

  test.each([
    ['redis://127.0.0.1:notaport', 'port "notaport" is not a number 1-65535'],
    ['redis://127.0.0.1:0', 'port "0" is not a number 1-65535'],
    ['redis://127.0.0.1:65536', 'port "65536" is not a number 1-65535'],
    ['redis://127.0.0.1:', 'port "" is not a number 1-65535'],
    ['redis://127.0.0.1:-1', 'port "-1" is not a number 1-65535'],
    ['redis://:6379', 'no host'],
    ['redis://', 'no host'],
    ['redis:///path.sock', 'no host (for a unix socket use unix:///path/to/redis.sock)'],
    ['redis://127.0.0.1/abc', 'database "abc" is not a number'],
    ['redis://127.0.0.1/1/2', 'database "1/2" is not a number'],
    ['redis://127.0.0.1/2147483648', 'database "2147483648" is not a number'],
    ['redis://127.0.0.1?db=2', 'query parameters are not supported'],
    ['redis://127.0.0.1#x', 'a fragment'],
    ['redis://bad host', 'white space'],
    ['redis://ho/st:1', 'database "st:1" is not a number'],
    ['redis://h%41:1', 'bad host "h%41:1"'],
    ['http://127.0.0.1:6379', 'unknown scheme "http"'],
    ['127.0.0.1:6379', 'no scheme'],
    ['unix://relative.sock', 'no absolute socket path'],
    ['unix:///', 'no absolute socket path'],
    ['unix:///tmp/r.sock?timeout=1', 'unsupported query parameter "timeout" (only db)'],
    ['unix:///tmp/r.sock?db=x', 'database "x" is not a number'],
  ])('%s: refused', (url, reason) => {
    expect(() => parseRedisUrl(url)).toThrow(RedisUrlError);
    expect(() => parseRedisUrl(url)).toThrow(reason);
  });

  test('a refusal names the URL with its user information blanked out, on one line', () => {
    for (const url of [
      'redis://user:s3cret@127.0.0.1:notaport',
      'redis://:s3cret@:6379',
      'rediss://user:s3cret@host/notadb',
      'redis://user:s3/cret@host:notaport',
      'redis://user:s3cret@host:1?password=s3cret',
      'unix://:s3cret@relative',
      'redis://user:%zzs3cret@host',
      'ftp://user:s3cret@host',
    ]) {
      let message = '';
      try {
        parseRedisUrl(url);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, url).not.toBe('');
      expect(message, url).not.toContain('s3cret');
      expect(message, url).not.toContain('\n');
    }
    expect(() => parseRedisUrl('redis://user:s3cret@127.0.0.1:notaport')).toThrow('in "redis://***@127.0.0.1:notaport"');
  });
});

test('redactRedisUrl blanks everything up to the last @, and the query', () => {
  expect(redactRedisUrl('redis://u:p@h:1/2')).toBe('redis://***@h:1/2');
  expect(redactRedisUrl('redis://u:p@x@h')).toBe('redis://***@h');
  expect(redactRedisUrl('unix:///tmp/r.sock?db=1&password=p')).toBe('unix:///tmp/r.sock?...');
  expect(redactRedisUrl('redis://h:1')).toBe('redis://h:1');
});

test('describeRedisTarget: for logs, never the user or password', () => {
  expect(describeRedisTarget(parseRedisUrl('redis://chat:s3cret@10.0.0.5:6379/2'))).toBe('redis://***@10.0.0.5:6379/2');
  expect(describeRedisTarget(parseRedisUrl('rediss://[::1]'))).toBe('rediss://[::1]:6379/0');
  expect(describeRedisTarget(parseRedisUrl('unix://:s3cret@/tmp/r.sock?db=3'))).toBe('unix://***@/tmp/r.sock?db=3');
  expect(describeRedisTarget(parseRedisUrl('unix:///tmp/r.sock'))).toBe('unix:///tmp/r.sock');
});

test('connectionOptions: what ioredis is given', () => {
  expect(connectionOptions(parseRedisUrl('redis://chat:s3cret@10.0.0.5:7000/2'))).toEqual({
    host: '10.0.0.5',
    port: 7000,
    db: 2,
    username: 'chat',
    password: 's3cret',
  });
  expect(connectionOptions(parseRedisUrl('rediss://h'))).toEqual({ host: 'h', port: 6379, db: 0, tls: {} });
  expect(connectionOptions(parseRedisUrl('unix:///tmp/r.sock?db=1'))).toEqual({ path: '/tmp/r.sock', db: 1 });
});
