/**
 * What the cluster keeps in Redis (changed only by the scripts in scripts.ts),
 * and how the node reads it back: envelopes from room channels, member values,
 * history entries.
 *
 * Keys and channels all start with the cluster's prefix P (ClusterKeys, clusterPrefix:
 * "NAME:dbN:", from --cluster-name and the db index of --redis, e.g. "chat:db0:"), so that two
 * clusters on one Redis share nothing: not keys (another db, or another name) and not
 * channels (pub/sub ignores the db index). Room names are [A-Za-z0-9_.-], node ids are hex,
 * cluster names [A-Za-z0-9_.-]: none holds ':'.
 *   P room:R:meta       hash  seq (last sequence number), epoch (this incarnation of R)
 *   P room:R:history    stream, entry id SEQ-0, field f = the encoded Message frame, capped
 *                       exactly at --history entries
 *   P room:R:members    hash  member id -> "NODE\tNICKNAME-KEYS\tNICKNAME\tRESUME-HASH" (keys: see
 *                       nicknameKeysField; the hash of the membership's resume key, sequencer/resume.ts,
 *                       absent from a member a sync put back)
 *   P room:R:nicknames  hash  nickname key (each of a member's two) -> member id
 *   P rooms             set   every room name (swept when a room's meta is gone)
 *   P epoch             the last epoch given, so that epochs only grow
 *   P nodes             set   node ids that have joined the cluster
 *   P node:N:alive      heartbeat key with a TTL (--node-ttl)
 *   P node:N:rooms      set   rooms node N has had members in (the reaper's work list)
 * Channels:
 *   P room:R            envelopes of R's room frames, in the room's order
 *   P node:N            private messages for connections on node N
 *
 * An envelope is a 18-byte header then a token and a frame:
 *   u8 kind (1 message, 2 member joined/left, 3 sync marker), u64 head (the room's
 *   sequence number after the event), u64 epoch (as two little-endian u32 each),
 *   u8 token length, the token (names a join or sync of one node: its marker; or
 *   RESUMED_TOKEN on the member-left of a membership a rejoin took over), the frame
 *   (the encoded ServerFrame, sent to the workers as it is).
 * Frames are binary strings to Lua: no JSON on the way, no re-encoding.
 */

import type { Logger } from 'pino';
import { decodeServerFrame, ProtocolError, type ChatMessage } from '../../protocol/index.js';
import { nicknameKeys } from '../../rooms/skeleton.js';

/** A room's keys are its channel plus a suffix (the room-list script builds them the same way). */
export const META_SUFFIX = ':meta';
export const MEMBERS_SUFFIX = ':members';

/** The prefix of every key and channel of a cluster: its name and the db index (see the top of this file). */
export function clusterPrefix(clusterName: string, db: number): string {
  return `${clusterName}:db${db}:`;
}

/**
 * Every key and channel of one cluster, under its prefix: built once per node and handed
 * to everything that names a key or channel, so that none is named without the prefix.
 */
export class ClusterKeys {
  /** A room's channel is roomPrefix + its name; its keys add a suffix. */
  readonly roomPrefix: string;
  /** A node's channel is nodePrefix + its id; its keys add a suffix. */
  readonly nodePrefix: string;
  readonly nodes: string;
  readonly rooms: string;
  readonly lastEpoch: string;

  constructor(readonly prefix: string) {
    this.roomPrefix = `${prefix}room:`;
    this.nodePrefix = `${prefix}node:`;
    this.nodes = `${prefix}nodes`;
    this.rooms = `${prefix}rooms`;
    this.lastEpoch = `${prefix}epoch`;
  }

  meta(room: string): string {
    return `${this.roomPrefix}${room}${META_SUFFIX}`;
  }
  history(room: string): string {
    return `${this.roomPrefix}${room}:history`;
  }
  members(room: string): string {
    return `${this.roomPrefix}${room}${MEMBERS_SUFFIX}`;
  }
  nicknames(room: string): string {
    return `${this.roomPrefix}${room}:nicknames`;
  }
  roomChannel(room: string): string {
    return `${this.roomPrefix}${room}`;
  }
  nodeChannel(node: string): string {
    return `${this.nodePrefix}${node}`;
  }
  nodeAlive(node: string): string {
    return `${this.nodePrefix}${node}:alive`;
  }
  nodeRooms(node: string): string {
    return `${this.nodePrefix}${node}:rooms`;
  }

  /** What a channel this node subscribed to is: a node's (private messages), or a room's (with its name). */
  channelOf(channel: string): { readonly node: true } | { readonly node: false; readonly room: string } | null {
    if (channel.startsWith(this.nodePrefix)) return { node: true };
    if (channel.startsWith(this.roomPrefix)) return { node: false, room: channel.slice(this.roomPrefix.length) };
    return null;
  }
}

export const enum EnvelopeKind {
  Message = 1,
  Member = 2,
  Sync = 3,
}

export const ENVELOPE_HEADER_BYTES = 18;

/**
 * The token of the member-left a join script publishes when a rejoin with the resume key
 * takes a membership over: the node holding the old connection, if alive, takes it out of
 * the room and tells it, instead of taking the member-left for a reaper's mistake. Never a
 * marker's token (those are NODE:N).
 */
export const RESUMED_TOKEN = 'resumed';

export interface Envelope {
  readonly kind: EnvelopeKind;
  /** The room's sequence number after the event (a message: its own). */
  readonly head: number;
  readonly epoch: number;
  /** Names the join or sync whose marker this is; '' otherwise. */
  readonly token: string;
  /** The frame for the workers (empty for a sync marker). */
  readonly frame: Uint8Array;
}

/** An envelope from a room channel, or null when it is not one (never throws). */
export function parseEnvelope(message: Buffer): Envelope | null {
  if (message.length < ENVELOPE_HEADER_BYTES) return null;
  const kind = message[0] as EnvelopeKind;
  if (kind !== EnvelopeKind.Message && kind !== EnvelopeKind.Member && kind !== EnvelopeKind.Sync) return null;
  const tokenLength = message[17]!;
  if (message.length < ENVELOPE_HEADER_BYTES + tokenLength) return null;
  return {
    kind,
    head: message.readUInt32LE(1) + message.readUInt32LE(5) * 2 ** 32,
    epoch: message.readUInt32LE(9) + message.readUInt32LE(13) * 2 ** 32,
    token: message.toString('latin1', ENVELOPE_HEADER_BYTES, ENVELOPE_HEADER_BYTES + tokenLength),
    frame: message.subarray(ENVELOPE_HEADER_BYTES + tokenLength),
  };
}

/**
 * A nickname's uniqueness keys as the scripts take and keep them: case-folded, then the
 * look-alike skeleton, joined by U+001F (neither key holds a control character). The name
 * is taken while another member holds either key.
 */
export function nicknameKeysField(nickname: string): string {
  return nicknameKeys(nickname).join('\u001f');
}

/** A members hash (flat HGETALL of id -> "NODE\tKEY\tNICKNAME[\tRESUME-HASH]") as id -> nickname. */
export function memberMap(flat: readonly (Buffer | string)[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i]!.toString(), nicknameIn(flat[i + 1]!.toString()));
  return map;
}

/** The nickname in a members hash value ("NODE\tKEY\tNICKNAME[\tRESUME-HASH]"; a nickname holds no tab). */
export function nicknameIn(value: string): string {
  return value.split('\t', 3)[2] ?? '';
}

/** History stream entries ([id, ['f', frame]]) as messages; an entry that does not decode is skipped, loudly. */
export function decodeEntries(entries: readonly [Buffer, Buffer[]][], log: Logger): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const [, fields] of entries) {
    try {
      const event = decodeServerFrame(fields[1] ?? new Uint8Array(0));
      if (event.type === 'message') out.push(event);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      log.warn({ code: error.code }, 'undecodable history entry skipped');
    }
  }
  return out;
}

/** The Joined history, as the in-process Room.historyFor gives it. */
export function historyOf(
  entries: readonly [Buffer, Buffer[]][],
  since: number,
  head: number,
  recovering: boolean,
  joinHistory: number,
  log: Logger,
): { messages: ChatMessage[]; recovered: boolean } {
  if (!recovering) return { messages: decodeEntries([...entries].reverse(), log), recovered: false };
  const messages = decodeEntries(entries, log);
  // Recovered when every message after `since` is still kept (the stream is capped at --history).
  if (messages.length === head - since && (messages.length === 0 || messages[0]!.seq === since + 1)) return { messages, recovered: true };
  return { messages: messages.slice(-joinHistory), recovered: false };
}
