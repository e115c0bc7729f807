/**
 * The Lua scripts that change what the cluster keeps in Redis (format.ts), and one
 * typed wrapper per script (ClusterScripts) that names its keys and arguments, so
 * no call site counts KEYS or ARGV. Each script is atomic, so Redis is the one
 * sequencer of every room: a room message gets the room's next sequence number, is
 * appended to the room's capped history stream and published to the room's channel
 * in one step; a join checks the nickname, adds the member and publishes
 * member-joined in one step. Frames are binary strings to Lua. Each script opens by
 * naming its KEYS and ARGV in the order its wrapper passes them.
 */
import type { ChainableCommander, Redis, Result } from 'ioredis';
import type { MemberInfo } from '../../protocol/index.js';
import type { RoomSummary } from '../sequencer.js';
import { type ClusterKeys, MEMBERS_SUFFIX, memberMap, META_SUFFIX, RESUMED_TOKEN } from './format.js';

// The scripts as ioredis commands (defined in ClusterScripts); chatJoinBuffer is chatJoin with Buffer replies (history frames).
declare module 'ioredis' {
  interface RedisCommander<Context> {
    chatSay(...args: [...(string | Buffer | number)[], (error: Error | null | undefined, seq?: number) => void]): Result<number, Context>;
    chatLeave(...args: (string | Buffer | number)[]): Result<number, Context>;
    chatSync(...args: (string | Buffer | number)[]): Result<unknown, Context>;
    chatPrivate(...args: (string | Buffer | number)[]): Result<number, Context>;
    chatJoinBuffer(...args: (string | Buffer | number)[]): Result<unknown, Context>;
    chatRoomList(...args: string[]): Result<unknown, Context>;
  }
}

/** Shared by every script: the envelope, and creating a room (or keeping it) on first use. */
const PRELUDE = `
local function u64(n)
  local lo = n % 4294967296
  return struct.pack('<I4I4', lo, (n - lo) / 4294967296)
end
local function envelope(kind, head, epoch, token, frame)
  return struct.pack('B', kind) .. u64(head) .. u64(epoch) .. struct.pack('B', #token) .. token .. frame
end
-- (Re)starts a room: a new epoch (microseconds from the clock, above the last one
-- handed out), numbering from 1 again, no history.
local function startRoom(meta, history, lastEpochKey)
  local t = redis.call('TIME')
  local epoch = math.max(tonumber(t[1]) * 1000000 + tonumber(t[2]), tonumber(redis.call('GET', lastEpochKey) or '0') + 1)
  redis.call('SET', lastEpochKey, string.format('%d', epoch))
  redis.call('DEL', history)
  redis.call('HSET', meta, 'seq', '0', 'epoch', string.format('%d', epoch))
  return epoch
end
-- The room's epoch; a room that does not exist (new, expired, or lost by Redis) is started.
local function ensureRoom(meta, history, lastEpochKey)
  local epoch = tonumber(redis.call('HGET', meta, 'epoch'))
  if epoch then
    redis.call('PERSIST', meta)
    redis.call('PERSIST', history)
    return epoch
  end
  return startRoom(meta, history, lastEpochKey)
end
local function ownerOf(value)
  return string.match(value, '^([^\\t]*)\\t([^\\t]*)\\t')
end
-- A nickname's keys come joined by \\31 (case-folded, look-alike skeleton): nicknameKeysField.
local function keysOf(field)
  local keys, from = {}, 1
  while true do
    local cut = string.find(field, '\\31', from, true)
    if not cut then break end
    keys[#keys + 1] = string.sub(field, from, cut - 1)
    from = cut + 1
  end
  keys[#keys + 1] = string.sub(field, from)
  return keys
end
-- Who holds any of the keys (false when none is held): the name is taken by them.
local function nicknameOwner(nicknames, field)
  for _, key in ipairs(keysOf(field)) do
    local owner = redis.call('HGET', nicknames, key)
    if owner then return owner end
  end
  return false
end
local function holdNickname(nicknames, field, memberId)
  for _, key in ipairs(keysOf(field)) do redis.call('HSET', nicknames, key, memberId) end
end
local function releaseNickname(nicknames, field, memberId)
  for _, key in ipairs(keysOf(field)) do
    if redis.call('HGET', nicknames, key) == memberId then redis.call('HDEL', nicknames, key) end
  end
end
`;

/**
 * Adds a member, checking its nickname, and publishes member-joined tagged with
 * the join's token (its marker); returns the Joined snapshot. The member's value keeps
 * the hash of its resume key. A rejoin presenting the key (its hash) of the member that
 * holds the nickname takes it over: the first call returns {'Resumable', id, nickname}
 * of that member, the node encodes its member-left frame and calls again naming it
 * (`takeOver`); if it still holds the name with that hash, it is removed with the
 * member-left (token RESUMED_TOKEN) before the join goes on.
 * Returns {'ok', head, epoch, members (flat HGETALL, or empty unless asked for), history entries, recovering (1/0)},
 * {'Resumable', id, nickname}, or {code} with an ErrorCode name when refused.
 */
const JOIN = `${PRELUDE}
local meta, history, members, nicknames = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local allRooms, nodeRooms, lastEpoch = KEYS[5], KEYS[6], KEYS[7]
local room, memberId, node, nicknameKey, nickname = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local joinedFrame, token, channel = ARGV[6], ARGV[7], ARGV[8]
local since, sinceEpoch, joinHistory = tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[11]
local wantMembers = ARGV[12] == '1'
local maxRoomsTotal = tonumber(ARGV[13])
local resumeHash, newHash, takeOver, takenLeftFrame, resumedToken = ARGV[14], ARGV[15], ARGV[16], ARGV[17], ARGV[18]
local owner = nicknameOwner(nicknames, nicknameKey)
if owner then
  if owner == memberId then return {'AlreadyJoined'} end
  -- A resume: one member holds the name (by both keys, or the one it has) and its hash is the presented key's.
  if resumeHash == '' then return {'NicknameTaken'} end
  for _, key in ipairs(keysOf(nicknameKey)) do
    local other = redis.call('HGET', nicknames, key)
    if other and other ~= owner then return {'NicknameTaken'} end
  end
  local value = redis.call('HGET', members, owner)
  if not value or string.match(value, '^[^\\t]*\\t[^\\t]*\\t[^\\t]*\\t([^\\t]*)$') ~= resumeHash then return {'NicknameTaken'} end
  -- The node builds the old member's member-left frame, then asks again naming it.
  if owner ~= takeOver then return {'Resumable', owner, string.match(value, '^[^\\t]*\\t[^\\t]*\\t([^\\t]*)')} end
  local _, ownerKey = ownerOf(value)
  redis.call('HDEL', members, owner)
  releaseNickname(nicknames, ownerKey, owner)
  local atHead = tonumber(redis.call('HGET', meta, 'seq') or '0')
  local atEpoch = tonumber(redis.call('HGET', meta, 'epoch') or '0')
  redis.call('PUBLISH', channel, envelope(2, atHead, atEpoch, resumedToken, takenLeftFrame))
end
if redis.call('HEXISTS', members, memberId) == 1 then return {'AlreadyJoined'} end
if redis.call('EXISTS', meta) == 0 and redis.call('SCARD', allRooms) >= maxRoomsTotal then return {'RoomLimit'} end
local epoch = ensureRoom(meta, history, lastEpoch)
redis.call('HSET', members, memberId, node .. '\\t' .. nicknameKey .. '\\t' .. nickname .. '\\t' .. newHash)
holdNickname(nicknames, nicknameKey, memberId)
redis.call('SADD', allRooms, room)
redis.call('SADD', nodeRooms, room)
local head = tonumber(redis.call('HGET', meta, 'seq'))
redis.call('PUBLISH', channel, envelope(2, head, epoch, token, joinedFrame))
local entries = {}
local recovering = 0
if since >= 0 and since <= head and (sinceEpoch == 0 or sinceEpoch == epoch) then
  recovering = 1
  if since < head then entries = redis.call('XRANGE', history, string.format('%d-0', since + 1), '+') end
elseif tonumber(joinHistory) > 0 then
  entries = redis.call('XREVRANGE', history, '+', '-', 'COUNT', joinHistory)
end
-- The member list only for a node not yet in step with the room: the others keep theirs from the channel.
local list = {}
if wantMembers then list = redis.call('HGETALL', members) end
return {'ok', head, epoch, list, entries, recovering}
`;

/**
 * Numbers a room message (its seq is written into the frame at `seqOffset`), keeps
 * it in the capped history and publishes it, in one step; only from a member.
 * Returns the message's seq, -1 when the room is not in Redis (lost: resync first),
 * or -2 when the sender is not a member in Redis (another node took its node for dead
 * and removed it: the sync puts it back, or tells it its nickname is lost).
 */
const SAY = `${PRELUDE}
local meta, history, members = KEYS[1], KEYS[2], KEYS[3]
local frame, seqOffset, historySize, channel, sender = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then return -1 end
if redis.call('HEXISTS', members, sender) == 0 then return -2 end
local seq = redis.call('HINCRBY', meta, 'seq', 1)
local numbered = string.sub(frame, 1, seqOffset) .. u64(seq) .. string.sub(frame, seqOffset + 9)
if tonumber(historySize) > 0 then
  redis.call('XADD', history, 'MAXLEN', historySize, string.format('%d-0', seq), 'f', numbered)
end
redis.call('PUBLISH', channel, envelope(1, seq, tonumber(epoch), '', numbered))
return seq
`;

/**
 * Removes a member (only from `requiredNode` unless it is '') and publishes
 * member-left; an emptied room expires after the empty-room TTL, or goes at once
 * when it never had a message.
 * Returns 1 when the member was there and is gone, 0 otherwise (so two reapers publish once).
 */
const LEAVE = `${PRELUDE}
local members, nicknames, meta, history, allRooms = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local memberId, requiredNode, leftFrame, channel, emptyRoomTtlMs, room = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local value = redis.call('HGET', members, memberId)
if not value then return 0 end
local node, key = ownerOf(value)
if requiredNode ~= '' and node ~= requiredNode then return 0 end
redis.call('HDEL', members, memberId)
releaseNickname(nicknames, key, memberId)
local head = tonumber(redis.call('HGET', meta, 'seq') or '0')
local epoch = tonumber(redis.call('HGET', meta, 'epoch') or '0')
redis.call('PUBLISH', channel, envelope(2, head, epoch, '', leftFrame))
if redis.call('HLEN', members) == 0 then
  if head == 0 then
    -- Never had a message: nothing to keep.
    redis.call('DEL', meta, history)
    redis.call('SREM', allRooms, room)
  else
    redis.call('PEXPIRE', meta, emptyRoomTtlMs)
    redis.call('PEXPIRE', history, emptyRoomTtlMs)
  end
end
return 1
`;

/**
 * After (re)connecting: puts a node's members of one room back, and the room itself
 * when Redis lost it, then publishes the sync marker. A room Redis lost, wholly or
 * its last messages (behind what this node delivered), starts a new epoch: its numbers
 * were handed out already, and one number must never name two messages in an epoch.
 * A room left without members (every local member refused, or gone meanwhile) expires
 * after the empty-room TTL, as one emptied by a leave: the sync never keeps it alive.
 * ARGV from FIRST_MEMBER on: per local member, id, nickname key, nickname, MemberJoined frame.
 * Returns {head, epoch, members (flat HGETALL), stale (ids of this node's entries that
 * are not local members any more), refused (local ids whose nickname someone else took)}.
 */
const SYNC = `${PRELUDE}
local meta, history, members, nicknames = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local allRooms, nodeRooms, lastEpoch = KEYS[5], KEYS[6], KEYS[7]
local room, node, known, delivered = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local token, channel, emptyRoomTtlMs = ARGV[5], ARGV[6], ARGV[7]
local FIRST_MEMBER = 8
local epoch = ensureRoom(meta, history, lastEpoch)
if epoch == known and tonumber(redis.call('HGET', meta, 'seq')) < delivered then
  -- Redis kept the room but lost its last messages (an AOF written every second): going on
  -- from its head would hand out numbers this node's clients have seen.
  epoch = startRoom(meta, history, lastEpoch)
end
redis.call('SADD', allRooms, room)
redis.call('SADD', nodeRooms, room)
local head = tonumber(redis.call('HGET', meta, 'seq'))
local here = {}
for i = FIRST_MEMBER, #ARGV, 4 do here[ARGV[i]] = true end
local stale = {}
local all = redis.call('HGETALL', members)
for i = 1, #all, 2 do
  local owner = ownerOf(all[i + 1])
  if owner == node and not here[all[i]] then table.insert(stale, all[i]) end
end
local refused = {}
for i = FIRST_MEMBER, #ARGV, 4 do
  local id, key, nickname, joinedFrame = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if redis.call('HEXISTS', members, id) == 0 then
    local owner = nicknameOwner(nicknames, key)
    if owner and owner ~= id then
      table.insert(refused, id)
    else
      redis.call('HSET', members, id, node .. '\\t' .. key .. '\\t' .. nickname)
      holdNickname(nicknames, key, id)
      redis.call('PUBLISH', channel, envelope(2, head, epoch, '', joinedFrame))
    end
  end
end
if redis.call('HLEN', members) == 0 then
  -- ensureRoom made it persistent: nobody is here to keep it.
  redis.call('PEXPIRE', meta, emptyRoomTtlMs)
  redis.call('PEXPIRE', history, emptyRoomTtlMs)
end
redis.call('PUBLISH', channel, envelope(3, head, epoch, token, ''))
return {head, epoch, redis.call('HGETALL', members), stale, refused}
`;

/**
 * Publishes a private message to the channel of the node that holds the recipient.
 * Returns 1 when published, 0 when the recipient is not in the room, -1 when its node
 * does not listen (it died; its members are reaped soon).
 */
const PRIVATE = `${PRELUDE}
local members = KEYS[1]
local recipient, nodeChannelPrefix, payload = ARGV[1], ARGV[2], ARGV[3]
local value = redis.call('HGET', members, recipient)
if not value then return 0 end
-- Nobody listens on the channel of a node that died: its member is still listed until it is reaped.
if redis.call('PUBLISH', nodeChannelPrefix .. ownerOf(value), payload) == 0 then return -1 end
return 1
`;

/**
 * Every room with its member count and head seq, as one flat array (name, members,
 * seq, ...): one call instead of two per room. Rooms whose meta Redis expired leave
 * the set. Room keys are built from the room prefix (ClusterKeys) and the suffixes in format.ts.
 */
const ROOM_LIST = `
local allRooms = KEYS[1]
local roomPrefix, metaSuffix, membersSuffix = ARGV[1], ARGV[2], ARGV[3]
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', allRooms)) do
  local seq = redis.call('HGET', roomPrefix .. name .. metaSuffix, 'seq')
  if seq then
    out[#out + 1] = name
    out[#out + 1] = redis.call('HLEN', roomPrefix .. name .. membersSuffix)
    out[#out + 1] = seq
  else
    redis.call('SREM', allRooms, name)
  end
end
return out
`;

/** A history stream entry as XRANGE returns it: [id "SEQ-0", ['f', frame]]. */
export type HistoryEntry = [Buffer, Buffer[]];

export type JoinReply =
  | { readonly ok: false; readonly refused: 'NicknameTaken' | 'AlreadyJoined' | 'RoomLimit' }
  /** The nickname is held by the membership whose resume key was presented: join again with `takeOver` set to it. */
  | { readonly ok: false; readonly refused: 'Resumable'; readonly holder: MemberInfo }
  | {
      readonly ok: true;
      /** The room's sequence number when the member was added. */
      readonly head: number;
      readonly epoch: number;
      /** Every member, the joiner included (id -> nickname); null unless `wantMembers`. */
      readonly members: Map<string, string> | null;
      /** After `since` when recovering, else the most recent ones, newest first. */
      readonly entries: HistoryEntry[];
      readonly recovering: boolean;
    };

export interface SyncReply {
  readonly head: number;
  readonly epoch: number;
  readonly members: Map<string, string>;
  /** This node's entries that are not local members any more. */
  readonly stale: string[];
  /** Local members whose nickname someone else took while Redis was away. */
  readonly refused: string[];
}

/** A local member as the sync script puts it back. */
export interface SyncMember {
  readonly id: string;
  /** The name's uniqueness keys (nicknameKeysField). */
  readonly nicknameKey: string;
  readonly nickname: string;
  readonly memberJoined: Uint8Array;
}

const bytes = (frame: Uint8Array): Buffer => Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);

/** The scripts of one node, on its command connection, with its cluster's keys. */
export class ClusterScripts {
  constructor(
    private readonly redis: Redis,
    private readonly node: string,
    private readonly keys: ClusterKeys,
  ) {
    redis.defineCommand('chatJoin', { numberOfKeys: 7, lua: JOIN });
    redis.defineCommand('chatSay', { numberOfKeys: 3, lua: SAY });
    redis.defineCommand('chatLeave', { numberOfKeys: 5, lua: LEAVE });
    redis.defineCommand('chatSync', { numberOfKeys: 7, lua: SYNC });
    redis.defineCommand('chatPrivate', { numberOfKeys: 1, lua: PRIVATE });
    redis.defineCommand('chatRoomList', { numberOfKeys: 1, lua: ROOM_LIST });
  }

  async join(args: {
    room: string;
    member: MemberInfo;
    /** The name's uniqueness keys (nicknameKeysField). */
    nicknameKey: string;
    memberJoined: Uint8Array;
    token: string;
    since: number | null;
    sinceEpoch: number;
    joinHistory: number;
    /** The whole member list (O(members)): only for a node that does not follow the room's channel yet. */
    wantMembers: boolean;
    /** A new room is refused when the cluster has this many. */
    maxRoomsTotal: number;
    /** The hash of the resume key the joiner presented ('' none), and of the one its Joined will carry. */
    resumeHash: string;
    newResumeHash: string;
    /** The member to take over (from a Resumable reply) and its member-left frame; absent: none. */
    takeOver?: { readonly member: MemberInfo; readonly memberLeft: Uint8Array };
  }): Promise<JoinReply> {
    const { room, member } = args;
    const reply = (await this.redis.chatJoinBuffer(
      ...this.roomKeys(room),
      room,
      member.id,
      this.node,
      args.nicknameKey,
      member.name,
      bytes(args.memberJoined),
      args.token,
      this.keys.roomChannel(room),
      args.since ?? -1,
      args.sinceEpoch,
      args.joinHistory,
      args.wantMembers ? '1' : '0',
      args.maxRoomsTotal,
      args.resumeHash,
      args.newResumeHash,
      args.takeOver?.member.id ?? '',
      args.takeOver ? bytes(args.takeOver.memberLeft) : '',
      RESUMED_TOKEN,
    )) as [Buffer, ...unknown[]];
    const status = reply[0].toString();
    if (status === 'Resumable') {
      const [, id, name] = reply as [Buffer, Buffer, Buffer];
      return { ok: false, refused: 'Resumable', holder: { id: id.toString(), name: name.toString() } };
    }
    if (status !== 'ok') return { ok: false, refused: status === 'NicknameTaken' || status === 'RoomLimit' ? status : 'AlreadyJoined' };
    const [, head, epoch, members, entries, recovering] = reply as [Buffer, number, number, Buffer[], HistoryEntry[], number];
    return { ok: true, head, epoch, members: args.wantMembers ? memberMap(members) : null, entries, recovering: recovering === 1 };
  }

  /** Queued on `pipeline` (a worker batch's messages go out together); `done` gets the seq, -1 (no room in Redis) or -2 (`sender` not a member there). */
  say(
    pipeline: ChainableCommander,
    args: { room: string; frame: Uint8Array; seqOffset: number; historySize: number; sender: string },
    done: (error: Error | null | undefined, seq?: number) => void,
  ): void {
    const { room } = args;
    pipeline.chatSay(
      this.keys.meta(room),
      this.keys.history(room),
      this.keys.members(room),
      bytes(args.frame),
      args.seqOffset,
      args.historySize,
      this.keys.roomChannel(room),
      args.sender,
      done,
    );
  }

  /** 1 when the member was there (on `requiredNode`, unless it is '') and is gone. */
  leave(args: { room: string; memberId: string; requiredNode: string; memberLeft: Uint8Array; emptyRoomTtlMs: number }): Promise<number> {
    const { room } = args;
    return this.redis.chatLeave(
      this.keys.members(room),
      this.keys.nicknames(room),
      this.keys.meta(room),
      this.keys.history(room),
      this.keys.rooms,
      args.memberId,
      args.requiredNode,
      bytes(args.memberLeft),
      this.keys.roomChannel(room),
      args.emptyRoomTtlMs,
      room,
    );
  }

  async sync(args: {
    room: string;
    epoch: number;
    delivered: number;
    token: string;
    members: readonly SyncMember[];
    /** How long the room lives on when the sync leaves it without members. */
    emptyRoomTtlMs: number;
  }): Promise<SyncReply> {
    const { room } = args;
    const perMember: (string | Buffer)[] = [];
    for (const m of args.members) perMember.push(m.id, m.nicknameKey, m.nickname, bytes(m.memberJoined));
    const raw = await this.redis.chatSync(
      ...this.roomKeys(room),
      room,
      this.node,
      args.epoch,
      args.delivered,
      args.token,
      this.keys.roomChannel(room),
      args.emptyRoomTtlMs,
      ...perMember,
    );
    const [head, epoch, all, stale, refused] = raw as [number, number, string[], string[], string[]];
    return { head, epoch, members: memberMap(all), stale, refused };
  }

  /** 1 when published to the node holding `recipient`, 0 when it is not in the room, -1 when that node is not listening. */
  sendPrivately(args: { room: string; recipient: string; frame: Uint8Array }): Promise<number> {
    const id = Buffer.from(args.recipient);
    const room = Buffer.from(args.room);
    const payload = Buffer.concat([Buffer.from([id.length]), id, Buffer.from([room.length]), room, args.frame]);
    return this.redis.chatPrivate(this.keys.members(args.room), args.recipient, this.keys.nodePrefix, payload);
  }

  /** Every room of the cluster (members, head seq), in Redis's order. */
  async roomList(): Promise<RoomSummary[]> {
    const flat = (await this.redis.chatRoomList(this.keys.rooms, this.keys.roomPrefix, META_SUFFIX, MEMBERS_SUFFIX)) as (string | number)[];
    const list: RoomSummary[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) list.push({ name: String(flat[i]), members: Number(flat[i + 1]), headSeq: Number(flat[i + 2]) });
    return list;
  }

  /** The KEYS of JOIN and SYNC, in their order. */
  private roomKeys(room: string): string[] {
    const k = this.keys;
    return [k.meta(room), k.history(room), k.members(room), k.nicknames(room), k.rooms, k.nodeRooms(this.node), k.lastEpoch];
  }
}
