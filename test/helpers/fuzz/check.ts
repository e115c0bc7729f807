/**
 * The decoders' contract, checked on one fuzz case: each decoder returns a complete,
 * correctly typed value or throws a ProtocolError (closeCode 1007); a value that
 * decodes re-encodes and decodes to itself; a valid frame decodes to what was encoded.
 * Anything else throws a FuzzFailure naming the seed, the index and the frame.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  type ClientRequest,
  CloseCode,
  ErrorCode,
  ProtocolError,
  type ServerEvent,
  decodeClientFrame,
  decodeServerFrame,
} from '../../../src/protocol/index.js';
import { type Direction, type FuzzCase, MAX_U32, encodeValue, hex } from './generator.js';

/** 'ok', or the ProtocolError code, for each decoder. */
export interface Verdict {
  readonly client: string;
  readonly server: string;
}

export class FuzzFailure extends Error {
  override readonly name = 'FuzzFailure';

  constructor(
    readonly fuzzCase: FuzzCase,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(
      `seed ${fuzzCase.seed} case ${fuzzCase.index} (${fuzzCase.kind}: ${fuzzCase.description}): ${problem}\n  frame (${fuzzCase.bytes.length} bytes): ${hex(fuzzCase.bytes)}`,
      options,
    );
  }
}

const DECODERS: Record<Direction, (bytes: Uint8Array) => ClientRequest | ServerEvent> = {
  client: decodeClientFrame,
  server: decodeServerFrame,
};

export function checkCase(c: FuzzCase): Verdict {
  return { client: checkDecoder(c, 'client'), server: checkDecoder(c, 'server') };
}

function checkDecoder(c: FuzzCase, direction: Direction): string {
  const decode = DECODERS[direction];
  let value: ClientRequest | ServerEvent;
  try {
    value = decode(c.bytes);
  } catch (error) {
    if (!(error instanceof ProtocolError)) {
      const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new FuzzFailure(c, `${direction} decoder threw ${what}`, { cause: error });
    }
    if (typeof error.code !== 'string' || error.code.length === 0 || error.closeCode !== CloseCode.InvalidPayload) {
      throw new FuzzFailure(c, `${direction} decoder threw a malformed ProtocolError (code ${String(error.code)}, closeCode ${error.closeCode})`);
    }
    if (c.expected?.direction === direction) throw new FuzzFailure(c, `${direction} decoder rejected a valid frame: ${error.code}: ${error.message}`);
    return error.code;
  }
  const problem = shapeProblem(direction, value);
  if (problem !== null) throw new FuzzFailure(c, `${direction} decoder returned an incomplete value: ${problem}: ${json(value)}`);
  if (c.expected?.direction === direction && !isDeepStrictEqual(value, c.expected.value)) {
    throw new FuzzFailure(c, `${direction} decoder turned ${json(c.expected.value)} into ${json(value)}`);
  }
  let again: ClientRequest | ServerEvent;
  try {
    again = decode(encodeValue(direction, value));
  } catch (error) {
    throw new FuzzFailure(c, `${direction} value ${json(value)} does not survive encode -> decode`, { cause: error });
  }
  if (!isDeepStrictEqual(again, value)) throw new FuzzFailure(c, `${direction} re-encode changed ${json(value)} into ${json(again)}`);
  return 'ok';
}

function json(value: unknown): string {
  return JSON.stringify(value);
}

// ------------------------------------------------------------------ shapes

type Check = (v: unknown) => boolean;

const str: Check = (v) => typeof v === 'string';
const bool: Check = (v) => typeof v === 'boolean';
const uint =
  (max: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
const u16 = uint(0xffff);
/** A join's protocol version: 0 on the wire decodes as 1, so never 0. */
const version: Check = (v) => u16(v) && v !== 0;
const u32 = uint(MAX_U32);
const u53 = uint(Number.MAX_SAFE_INTEGER);
const nullable =
  (inner: Check): Check =>
  (v) =>
    v === null || inner(v);
const member: Check = (v) => hasShape(v, { id: str, name: str });
const members: Check = (v) => Array.isArray(v) && v.every(member);
const errorCode: Check = (v) => typeof v === 'string' && Number.isNaN(Number(v)) && v in ErrorCode;
const messageFields = { room: str, seq: u53, sender: member, to: nullable(member), text: str, timestampMs: u53 };

/** Keys each type must have; `optional` keys may be absent but are checked when present. */
const SHAPES: Record<Direction, Record<string, { fields: Record<string, Check>; optional?: Record<string, Check> }>> = {
  client: {
    join: { fields: { requestId: u32, room: str, nickname: str, since: nullable(u53), protocolVersion: version }, optional: { epoch: u53, token: str } },
    leave: { fields: { requestId: u32, room: str } },
    say: { fields: { requestId: u32, room: str, text: str, to: nullable(str) } },
    members: { fields: { requestId: u32, room: str, after: str, prefix: str, limit: u16 } },
  },
  server: {
    welcome: {
      fields: {
        connectionId: str,
        protocolVersion: u16,
        maxFrameBytes: u32,
        maxRooms: u16,
        maxTextChars: u16,
        idleTimeoutSeconds: u16,
        rateLimitPerSecond: u32,
        rateBurst: u32,
      },
    },
    joined: {
      fields: {
        requestId: u32,
        room: str,
        you: member,
        members,
        history: (v) => Array.isArray(v) && v.every((m) => hasShape(m, messageFields)),
        headSeq: u53,
        recovered: bool,
        epoch: u53,
        memberCount: u32,
        nextAfter: str,
      },
    },
    memberJoined: { fields: { room: str, member } },
    memberLeft: { fields: { room: str, member } },
    message: { fields: messageFields },
    left: { fields: { requestId: u32, room: str } },
    sent: { fields: { requestId: u32, room: str, seq: u53 } },
    error: { fields: { requestId: u32, code: errorCode, message: str, room: nullable(str), temporary: bool } },
    memberPage: { fields: { requestId: u32, room: str, members, nextAfter: str, memberCount: u32 } },
    presence: { fields: { room: str, joined: members, left: members, memberCount: u32 } },
  },
};

function hasShape(v: unknown, fields: Record<string, Check>, optional: Record<string, Check> = {}): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const record = v as Record<string, unknown>;
  for (const key of Object.keys(record)) if (!(key in fields) && !(key in optional)) return false;
  for (const [key, check] of Object.entries(fields)) if (!check(record[key])) return false;
  for (const [key, check] of Object.entries(optional)) if (key in record && !check(record[key])) return false;
  return true;
}

/** Why `value` is not a complete value of its type, or null. */
export function shapeProblem(direction: Direction, value: unknown): string | null {
  const type = (value as { type?: unknown } | null)?.type;
  const shape = typeof type === 'string' ? SHAPES[direction][type] : undefined;
  if (!shape) return `unknown type ${String(type)}`;
  return hasShape(value, { type: (v) => v === type, ...shape.fields }, shape.optional) ? null : `not a complete ${type}`;
}
