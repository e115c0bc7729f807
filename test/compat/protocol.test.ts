/** The workerman-chat protocol, pure: what a client frame may be, and the exact texts the host writes. */
import { describe, expect, test } from 'vitest';
import {
  errorText,
  escapeHtml,
  formatTime,
  loginText,
  logoutText,
  nl2br,
  PING_TEXT,
  PRIVATE_TO_YOU_PREFIX,
  parseClientText,
  privateEchoPrefix,
  sayText,
  TO_ALL,
} from '../../src/compat/protocol.js';

const MAX_TEXT = 2000;
const parse = (text: string) => parseClientText(text, MAX_TEXT);
const ID = '0123456789abcdef0123';

describe('client frames the seed page sends, byte for byte', () => {
  test('login with an unquoted numeric room id', () => {
    expect(parse('{"type":"login","client_name":"Ann","room_id":2}')).toEqual({ ok: true, request: { type: 'login', name: 'Ann', room: '2' } });
  });

  test('a quoted room id is the same room; a name with an escaped quote is read as written', () => {
    expect(parse('{"type":"login","client_name":"say \\"hi\\"","room_id":"2"}')).toEqual({
      ok: true,
      request: { type: 'login', name: 'say "hi"', room: '2' },
    });
  });

  test('say to everyone, with to_client_name 所有人 and escaped newlines', () => {
    expect(parse('{"type":"say","to_client_id":"all","to_client_name":"所有人","content":"one\\ntwo\\r\\nthree"}')).toEqual({
      ok: true,
      request: { type: 'say', to: null, text: 'one\ntwo\nthree' },
    });
  });

  test('say to one client id (any case), to_client_name ignored', () => {
    expect(parse(`{"type":"say","to_client_id":"${ID.toUpperCase()}","to_client_name":"Bob","content":"psst"}`)).toEqual({
      ok: true,
      request: { type: 'say', to: ID, text: 'psst' },
    });
  });

  test('pong, and fields nobody reads are ignored', () => {
    expect(parse('{"type":"pong"}')).toEqual({ ok: true, request: { type: 'pong' } });
    expect(parse('{"type":"pong","extra":[1,2,3]}')).toEqual({ ok: true, request: { type: 'pong' } });
  });

  test('a name is trimmed and NFC-normalised as on the FlatBuffers port', () => {
    expect(parse('{"type":"login","client_name":"  Zoe\\u0308 ","room_id":1}')).toEqual({ ok: true, request: { type: 'login', name: 'Zoë', room: '1' } });
  });
});

describe('bad frames are refused with a reason, never thrown', () => {
  test.for([
    ['not JSON', '{"type":"login","client_name":"a","room_id":abc}', 'BadRequest'],
    ['empty', '', 'BadRequest'],
    ['a JSON string', '"login"', 'BadRequest'],
    ['an array', '[{"type":"pong"}]', 'BadRequest'],
    ['null', 'null', 'BadRequest'],
    ['a number', '42', 'BadRequest'],
    ['no type', '{"client_name":"a"}', 'BadRequest'],
    ['type of the wrong kind', '{"type":["login"]}', 'BadRequest'],
    ['unknown type', '{"type":"logout"}', 'BadRequest'],
    ['type inherited from the prototype', '{"__proto__":{"type":"pong"}}', 'BadRequest'],
    ['login without a name', '{"type":"login","room_id":1}', 'BadRequest'],
    ['login with a numeric name', '{"type":"login","client_name":5,"room_id":1}', 'BadRequest'],
    ['login without a room', '{"type":"login","client_name":"a"}', 'BadRequest'],
    ['room id true (the seed took it for 1)', '{"type":"login","client_name":"a","room_id":true}', 'BadRequest'],
    ['room id null', '{"type":"login","client_name":"a","room_id":null}', 'BadRequest'],
    ['room id an object', '{"type":"login","client_name":"a","room_id":{"x":1}}', 'BadRequest'],
    ['room id a fraction', '{"type":"login","client_name":"a","room_id":2.5}', 'InvalidRoomName'],
    ['room id past 2^53', '{"type":"login","client_name":"a","room_id":1e300}', 'InvalidRoomName'],
    ['room id with a topic wildcard', '{"type":"login","client_name":"a","room_id":"a/b"}', 'InvalidRoomName'],
    ['room id empty', '{"type":"login","client_name":"a","room_id":""}', 'InvalidRoomName'],
    ['room id over 64 characters', `{"type":"login","client_name":"a","room_id":"${'r'.repeat(65)}"}`, 'InvalidRoomName'],
    ['empty name', '{"type":"login","client_name":"  ","room_id":1}', 'InvalidNickname'],
    ['name over 32 characters', `{"type":"login","client_name":"${'n'.repeat(33)}","room_id":1}`, 'InvalidNickname'],
    ['name of 300 spaces and a letter', `{"type":"login","client_name":"${' '.repeat(300)}a","room_id":1}`, 'InvalidNickname'],
    ['name with a control character', '{"type":"login","client_name":"a\\u0007b","room_id":1}', 'InvalidNickname'],
    ['say without a recipient', '{"type":"say","content":"x"}', 'BadRequest'],
    ['say to a number', '{"type":"say","to_client_id":7,"content":"x"}', 'BadRequest'],
    ['say with a numeric to_client_name', '{"type":"say","to_client_id":"all","to_client_name":1,"content":"x"}', 'BadRequest'],
    ['say with a huge to_client_name', `{"type":"say","to_client_id":"all","to_client_name":"${'x'.repeat(257)}","content":"x"}`, 'BadRequest'],
    ['say without content', '{"type":"say","to_client_id":"all"}', 'BadRequest'],
    ['say with array content', '{"type":"say","to_client_id":"all","content":["x"]}', 'BadRequest'],
    ['say to an id that is not 20 hex', '{"type":"say","to_client_id":"7f000001","content":"x"}', 'RecipientNotFound'],
    ['say with blank content', '{"type":"say","to_client_id":"all","content":"  "}', 'InvalidText'],
    ['say with a control character (a backslash the page did not escape: \\b)', '{"type":"say","to_client_id":"all","content":"a\\bc"}', 'InvalidText'],
    ['say over --max-text', `{"type":"say","to_client_id":"all","content":"${'x'.repeat(MAX_TEXT + 1)}"}`, 'InvalidText'],
  ])('%s', ([, text, error]) => {
    const parsed = parse(text!);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.refusal.error).toBe(error);
      expect(parsed.refusal.message.length).toBeGreaterThan(0);
      expect(parsed.refusal.message.length).toBeLessThan(300);
    }
  });

  test('deep nesting and every truncation of a valid frame give a refusal, not an exception', () => {
    expect(parse(`${'['.repeat(50_000)}${']'.repeat(50_000)}`).ok).toBe(false);
    const frame = '{"type":"say","to_client_id":"all","to_client_name":"所有人","content":"hello"}';
    for (let i = 0; i < frame.length; i++) expect(parse(frame.slice(0, i)).ok, frame.slice(0, i)).toBe(false);
  });
});

describe('server texts', () => {
  const ann = { clientId: 'aaaaaaaaaaaaaaaaaaaa', name: 'Ann <b>&</b>' };
  const bob = { clientId: 'bbbbbbbbbbbbbbbbbbbb', name: "Bob's" };
  const time = '2024-05-06 07:08:09';

  test('login to the joiner: the seed key order, client_list with the joiner, names escaped once', () => {
    expect(loginText(ann, time, [bob, ann])).toBe(
      '{"type":"login","client_id":"aaaaaaaaaaaaaaaaaaaa","client_name":"Ann &lt;b&gt;&amp;&lt;/b&gt;","time":"2024-05-06 07:08:09",' +
        '"client_list":{"bbbbbbbbbbbbbbbbbbbb":"Bob&#039;s","aaaaaaaaaaaaaaaaaaaa":"Ann &lt;b&gt;&amp;&lt;/b&gt;"}}',
    );
  });

  test('login to the others: no client_list', () => {
    expect(loginText(bob, time)).toBe('{"type":"login","client_id":"bbbbbbbbbbbbbbbbbbbb","client_name":"Bob&#039;s","time":"2024-05-06 07:08:09"}');
  });

  test('say to the room: content escaped, <br /> before each newline', () => {
    expect(sayText(ann, TO_ALL, 'a < b\nc "d"', time)).toBe(
      '{"type":"say","from_client_id":"aaaaaaaaaaaaaaaaaaaa","from_client_name":"Ann &lt;b&gt;&amp;&lt;/b&gt;","to_client_id":"all",' +
        '"content":"a &lt; b<br />\\nc &quot;d&quot;","time":"2024-05-06 07:08:09"}',
    );
  });

  test('private say: the seed prefixes, the recipient name escaped in the echo', () => {
    expect(JSON.parse(sayText(ann, bob.clientId, 'hi', time, PRIVATE_TO_YOU_PREFIX)).content).toBe('<b>对你说: </b>hi');
    expect(JSON.parse(sayText(ann, bob.clientId, 'hi', time, privateEchoPrefix(bob.name))).content).toBe('<b>你对Bob&#039;s说: </b>hi');
    expect(JSON.parse(sayText(ann, bob.clientId, 'hi', time, PRIVATE_TO_YOU_PREFIX)).to_client_id).toBe(bob.clientId);
  });

  test('logout and ping', () => {
    expect(logoutText(bob, time)).toBe(
      '{"type":"logout","from_client_id":"bbbbbbbbbbbbbbbbbbbb","from_client_name":"Bob&#039;s","time":"2024-05-06 07:08:09"}',
    );
    expect(PING_TEXT).toBe('{"type":"ping"}');
  });

  test('error: code 101 for a taken nickname (the seed later versions), 100 for the rest; msg escaped', () => {
    expect(errorText('NicknameTaken', 'the nickname "<Ann>" is taken')).toBe(
      '{"type":"error","code":101,"error":"NicknameTaken","msg":"the nickname &quot;&lt;Ann&gt;&quot; is taken"}',
    );
    expect(JSON.parse(errorText('BadRequest', 'x'))).toEqual({ type: 'error', code: 100, error: 'BadRequest', msg: 'x' });
  });

  test('escapeHtml is htmlspecialchars with ENT_QUOTES; nl2br keeps the line break', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#039;&amp;&#039;&lt;/a&gt;');
    expect(escapeHtml('plain 文字')).toBe('plain 文字');
    expect(nl2br('a\nb\r\nc\rd')).toBe('a<br />\nb<br />\r\nc<br />\rd');
  });

  test('time is Y-m-d H:i:s in local time', () => {
    const at = new Date(2024, 0, 2, 3, 4, 5).getTime();
    expect(formatTime(at)).toBe('2024-01-02 03:04:05');
    expect(formatTime(new Date(2024, 11, 31, 23, 59, 59, 999).getTime())).toBe('2024-12-31 23:59:59');
  });
});
