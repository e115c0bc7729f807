/**
 * Welcome announces the host's per-connection rate limit (fields added at the end of
 * the table, so protocol 2 is unchanged): it round trips, and a Welcome written
 * before these fields existed still decodes, with 0 for "not announced".
 */
import * as flatbuffers from 'flatbuffers';
import { describe, expect, test } from 'vitest';
import { ServerBody } from '../../src/protocol/generated/chat/wire/server-body.js';
import { ServerFrame } from '../../src/protocol/generated/chat/wire/server-frame.js';
import { decodeServerFrame, encodeWelcome, PROTOCOL_VERSION } from '../../src/protocol/index.js';

const welcome = {
  connectionId: '1.a.7',
  protocolVersion: PROTOCOL_VERSION,
  maxFrameBytes: 16384,
  maxRooms: 16,
  maxTextChars: 2000,
  idleTimeoutSeconds: 120,
  rateLimitPerSecond: 20,
  rateBurst: 40,
};

/** A Welcome as a host before the rate fields wrote it: six slots, written by hand. */
function oldWelcome(): Uint8Array {
  const builder = new flatbuffers.Builder(64);
  const id = builder.createString(welcome.connectionId);
  builder.startObject(6);
  builder.addFieldOffset(0, id, 0);
  builder.addFieldInt16(1, welcome.protocolVersion, 0);
  builder.addFieldInt32(2, welcome.maxFrameBytes, 0);
  builder.addFieldInt16(3, welcome.maxRooms, 0);
  builder.addFieldInt16(4, welcome.maxTextChars, 0);
  builder.addFieldInt16(5, welcome.idleTimeoutSeconds, 0);
  const body = builder.endObject();
  ServerFrame.startServerFrame(builder);
  ServerFrame.addBodyType(builder, ServerBody.Welcome);
  ServerFrame.addBody(builder, body);
  builder.finish(ServerFrame.endServerFrame(builder));
  return builder.asUint8Array();
}

describe('Welcome and the rate limit', () => {
  test('carries the rate limit and burst', () => {
    expect(decodeServerFrame(encodeWelcome(welcome))).toEqual({ type: 'welcome', ...welcome });
    const most = { ...welcome, rateLimitPerSecond: 2 ** 32 - 1, rateBurst: 2 ** 32 - 1 };
    expect(decodeServerFrame(encodeWelcome(most))).toEqual({ type: 'welcome', ...most });
  });

  test('a Welcome from a host before the rate fields decodes, with 0 for not announced', () => {
    expect(decodeServerFrame(oldWelcome())).toEqual({ type: 'welcome', ...welcome, rateLimitPerSecond: 0, rateBurst: 0 });
  });

  test('the fields an older reader knows keep their slots: only the vtable grows', () => {
    const older = oldWelcome();
    const newer = encodeWelcome(welcome);
    const vtableOf = (bytes: Uint8Array): number[] => {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const frame = view.getUint32(0, true);
      const frameVtable = frame - view.getInt32(frame, true);
      // ServerFrame slot 2 is the body (after request_id and body_type).
      const bodyField = frame + view.getUint16(frameVtable + 4 + 2 * 2, true);
      const body = bodyField + view.getUint32(bodyField, true);
      const vtable = body - view.getInt32(body, true);
      const slots = (view.getUint16(vtable, true) - 4) / 2;
      return Array.from({ length: slots }, (_, i) => view.getUint16(vtable + 4 + 2 * i, true));
    };
    expect(vtableOf(older)).toHaveLength(6);
    expect(vtableOf(newer)).toHaveLength(8);
    // Every old slot is present in the new frame; an old decoder reads slots 0-5 and ignores the rest.
    expect(
      vtableOf(newer)
        .slice(0, 6)
        .every((offset) => offset > 0),
    ).toBe(true);
  });
});
