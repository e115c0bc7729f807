/**
 * The Lua scripts that change what the cluster keeps in Redis (redis.format.ts). Each
 * is atomic, so Redis is the one sequencer of every room: a room message gets the
 * room's next sequence number, is appended to the room's capped history stream and
 * published to the room's channel in one step; a join checks the nickname, adds the
 * member and publishes member-joined in one step. Frames are binary strings to Lua.
 */

/** Shared by every script: the envelope, and creating a room (or keeping it) on first use. */
const PRELUDE = `
local function u64(n)
  local lo = n % 4294967296
  return struct.pack('<I4I4', lo, (n - lo) / 4294967296)
end
local function envelope(kind, head, epoch, token, frame)
  return struct.pack('B', kind) .. u64(head) .. u64(epoch) .. struct.pack('B', #token) .. token .. frame
end
-- The room's epoch; a room that does not exist is created with epoch \`wanted\`
-- (0: a new one, from the clock, always above the last) and seq \`seqFrom\`.
local function ensureRoom(meta, history, lastEpochKey, wanted, seqFrom)
  local epoch = tonumber(redis.call('HGET', meta, 'epoch'))
  if epoch then
    redis.call('PERSIST', meta)
    redis.call('PERSIST', history)
    return epoch
  end
  if wanted > 0 then
    epoch = wanted
  else
    local t = redis.call('TIME')
    epoch = math.max(tonumber(t[1]) * 1000000 + tonumber(t[2]), tonumber(redis.call('GET', lastEpochKey) or '0') + 1)
  end
  if epoch > tonumber(redis.call('GET', lastEpochKey) or '0') then
    redis.call('SET', lastEpochKey, string.format('%d', epoch))
  end
  redis.call('DEL', history)
  redis.call('HSET', meta, 'seq', string.format('%d', seqFrom), 'epoch', string.format('%d', epoch))
  return epoch
end
local function ownerOf(value)
  return string.match(value, '^([^\\t]*)\\t([^\\t]*)\\t')
end
`;

/**
 * KEYS meta, history, members, nicknames, rooms, node rooms, last epoch
 * ARGV room, member id, node id, nickname key, nickname, MemberJoined frame, token,
 *      channel, since (-1: none), since epoch (0: unknown), join history
 * Returns {'ok', head, epoch, members (flat HGETALL), history entries, recovering (1/0)}
 * or {code} with an ErrorCode name when refused.
 */
export const JOIN = `${PRELUDE}
local owner = redis.call('HGET', KEYS[4], ARGV[4])
if owner then
  if owner == ARGV[2] then return {'AlreadyJoined'} end
  return {'NicknameTaken'}
end
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return {'AlreadyJoined'} end
local epoch = ensureRoom(KEYS[1], KEYS[2], KEYS[7], 0, 0)
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3] .. '\\t' .. ARGV[4] .. '\\t' .. ARGV[5])
redis.call('HSET', KEYS[4], ARGV[4], ARGV[2])
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('SADD', KEYS[6], ARGV[1])
local head = tonumber(redis.call('HGET', KEYS[1], 'seq'))
redis.call('PUBLISH', ARGV[8], envelope(2, head, epoch, ARGV[7], ARGV[6]))
local since = tonumber(ARGV[9])
local sinceEpoch = tonumber(ARGV[10])
local history = {}
local recovering = 0
if since >= 0 and since <= head and (sinceEpoch == 0 or sinceEpoch == epoch) then
  recovering = 1
  if since < head then history = redis.call('XRANGE', KEYS[2], string.format('%d-0', since + 1), '+') end
elseif tonumber(ARGV[11]) > 0 then
  history = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[11])
end
return {'ok', head, epoch, redis.call('HGETALL', KEYS[3]), history, recovering}
`;

/**
 * KEYS meta, history
 * ARGV Message frame, byte offset of its seq, history size, channel
 * Returns the message's seq, or -1 when the room is not in Redis (lost: resync first).
 */
export const SAY = `${PRELUDE}
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then return -1 end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local at = tonumber(ARGV[2])
local frame = string.sub(ARGV[1], 1, at) .. u64(seq) .. string.sub(ARGV[1], at + 9)
if tonumber(ARGV[3]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], string.format('%d-0', seq), 'f', frame)
end
redis.call('PUBLISH', ARGV[4], envelope(1, seq, tonumber(epoch), '', frame))
return seq
`;

/**
 * KEYS members, nicknames, meta, history
 * ARGV member id, node it must be on ('': any), MemberLeft frame, channel, empty-room TTL ms
 * Returns 1 when the member was there and is gone, 0 otherwise (so two reapers publish once).
 */
export const LEAVE = `${PRELUDE}
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return 0 end
local node, key = ownerOf(value)
if ARGV[2] ~= '' and node ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], key) == ARGV[1] then redis.call('HDEL', KEYS[2], key) end
local head = tonumber(redis.call('HGET', KEYS[3], 'seq') or '0')
local epoch = tonumber(redis.call('HGET', KEYS[3], 'epoch') or '0')
redis.call('PUBLISH', ARGV[4], envelope(2, head, epoch, '', ARGV[3]))
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
  redis.call('PEXPIRE', KEYS[4], ARGV[5])
end
return 1
`;

/**
 * After (re)connecting: puts a node's members of one room back, and the room itself
 * when Redis lost it (with the epoch and sequence the node knows, so numbering goes
 * on where the node's clients are). KEYS as JOIN.
 * ARGV room, node id, epoch known (0: none), last seq delivered, token, channel, then
 *      per local member: id, nickname key, nickname, MemberJoined frame
 * Returns {head, epoch, members (flat HGETALL), stale (ids of this node's entries that
 * are not local members any more), refused (local ids whose nickname someone else took)}.
 */
export const SYNC = `${PRELUDE}
local known = tonumber(ARGV[3])
local delivered = tonumber(ARGV[4])
local epoch = ensureRoom(KEYS[1], KEYS[2], KEYS[7], known, delivered)
if known > 0 and epoch ~= known and tonumber(redis.call('HGET', KEYS[1], 'seq')) < delivered then
  -- Created again after Redis lost it, by a node that did not know it, before this node put
  -- it back, and younger than what this node's clients have seen: their numbering goes on.
  redis.call('HSET', KEYS[1], 'epoch', string.format('%d', known))
  epoch = known
end
if epoch == known and tonumber(redis.call('HGET', KEYS[1], 'seq')) < delivered then
  redis.call('HSET', KEYS[1], 'seq', string.format('%d', delivered))
end
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('SADD', KEYS[6], ARGV[1])
local head = tonumber(redis.call('HGET', KEYS[1], 'seq'))
local here = {}
for i = 7, #ARGV, 4 do here[ARGV[i]] = true end
local stale = {}
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all, 2 do
  local node = ownerOf(all[i + 1])
  if node == ARGV[2] and not here[all[i]] then table.insert(stale, all[i]) end
end
local refused = {}
for i = 7, #ARGV, 4 do
  local id, key = ARGV[i], ARGV[i + 1]
  if redis.call('HEXISTS', KEYS[3], id) == 0 then
    local owner = redis.call('HGET', KEYS[4], key)
    if owner and owner ~= id then
      table.insert(refused, id)
    else
      redis.call('HSET', KEYS[3], id, ARGV[2] .. '\\t' .. key .. '\\t' .. ARGV[i + 2])
      redis.call('HSET', KEYS[4], key, id)
      redis.call('PUBLISH', ARGV[6], envelope(2, head, epoch, '', ARGV[i + 3]))
    end
  end
end
redis.call('PUBLISH', ARGV[6], envelope(3, head, epoch, ARGV[5], ''))
return {head, epoch, redis.call('HGETALL', KEYS[3]), stale, refused}
`;

/**
 * KEYS members
 * ARGV recipient id, node channel prefix, payload (u8 id length, id, Message frame)
 * Returns 1 when published to the recipient's node, 0 when it is not in the room.
 */
export const PRIVATE = `${PRELUDE}
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return 0 end
redis.call('PUBLISH', ARGV[2] .. ownerOf(value), ARGV[3])
return 1
`;

/**
 * Every room with its member count and head seq, as one flat array (name, members,
 * seq, ...): one call instead of two per room. Rooms whose meta Redis expired leave
 * the set. KEYS: rooms set. ARGV: room prefix, meta suffix, members suffix (redis.format.ts).
 */
export const ROOM_LIST = `
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local seq = redis.call('HGET', ARGV[1] .. name .. ARGV[2], 'seq')
  if seq then
    out[#out + 1] = name
    out[#out + 1] = redis.call('HLEN', ARGV[1] .. name .. ARGV[3])
    out[#out + 1] = seq
  else
    redis.call('SREM', KEYS[1], name)
  end
end
return out
`;
