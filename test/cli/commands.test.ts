/** The terminal client's pure parts: what a stdin line means, and the pacer against the host's own rate limiter. */
import { describe, expect, test } from 'vitest';
import { RateLimiter } from '../../src/admission/rate-limit.js';
import { parseLine } from '../../src/cli/commands.js';
import { Pacer } from '../../src/cli/pacer.js';

describe('parseLine', () => {
  test.each([
    ['hello', { kind: 'say', text: 'hello', to: null }],
    ['  indented text ', { kind: 'say', text: '  indented text ', to: null }],
    ['', { kind: 'blank' }],
    ['   ', { kind: 'blank' }],
    ['/to 1.a.2 hi there ', { kind: 'say', text: 'hi there ', to: '1.a.2' }],
    ['/to\t1.a.2\t tabbed', { kind: 'say', text: ' tabbed', to: '1.a.2' }],
    ['/join other', { kind: 'join', room: 'other' }],
    ['/join bad room! ', { kind: 'join', room: 'bad room!' }],
    ['/leave other', { kind: 'leave', room: 'other' }],
    ['/members', { kind: 'members', prefix: '' }],
    ['/members An', { kind: 'members', prefix: 'An' }],
    ['/more', { kind: 'more' }],
    ['/more  ', { kind: 'more' }],
    ['//etc/hosts is a file', { kind: 'say', text: '/etc/hosts is a file', to: null }],
    ['  //x', { kind: 'say', text: '/x', to: null }],
  ])('%j', (line, command) => {
    expect(parseLine(line)).toEqual(command);
  });

  test.each([
    ['/To 1.a.2 secret', /^unknown command \/To;/],
    ['/msg 1.a.2 secret', /^unknown command \/msg;/],
    ['/TO 1.a.2 secret', /^unknown command \/TO;/],
    ['  /To 1.a.2 secret', /^unknown command \/To;/],
    ['/', /^unknown command \/;/],
    ['/to 1.a.2', /^\/to needs a member id and a text/],
    ['/to 1.a.2 ', /^\/to needs a member id and a text/],
    ['/to', /^\/to needs a member id and a text/],
    ['/join', /^\/join needs a room/],
    ['/leave  ', /^\/leave needs a room/],
    ['/more of them', /^\/more takes nothing/],
  ])('%j is invalid', (line, message) => {
    const command = parseLine(line);
    expect(command.kind).toBe('invalid');
    expect(command.kind === 'invalid' && command.message).toMatch(message);
  });
});

describe('Pacer', () => {
  test('a burst at once, then one request per 1/(0.9 rate) s', () => {
    const pacer = new Pacer(20, 40, 0);
    // A quarter of the burst stays in reserve.
    for (let i = 0; i < 30; i++) {
      expect(pacer.delay(0)).toBe(0);
      pacer.take(0);
    }
    expect(pacer.delay(0)).toBe(Math.ceil(1000 / 18));
    expect(pacer.delay(1000 / 18)).toBe(0);
  });

  // Frames paced evenly may reach the host bunched (a busy worker reads several at
  // once): with stalls of up to 100 ms, the host's limiter still allows every one
  // when its burst lasts 100 ms of its rate or more (the defaults: 2 s). A host
  // with less cannot absorb such a stall from any sender.
  test.each([
    [20, 40],
    [2, 5],
    [1, 1],
    [1000, 200],
    [7, 1000],
  ])('what the pacer lets through at %i/s, bursts of %i, the host allows, even bunched', (perSecond, burst) => {
    const pacer = new Pacer(perSecond, burst, 0);
    const host = new RateLimiter({ perSecond, burst, abuseMs: 10_000 }, 0);
    let now = 0;
    let read = 0;
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      now += pacer.delay(now);
      pacer.take(now);
      // The host reads it at the end of a 100 ms stall, or at once; in order, as TCP delivers.
      seed = (seed * 48271) % 2147483647;
      read = Math.max(read, seed % 3 === 0 ? Math.ceil(now / 100) * 100 : now);
      expect(host.take(read), `request ${i} sent at ${now} ms, read at ${read} ms`).toBe('allow');
    }
  });
});
