/**
 * Every request gets exactly one answer, and nothing of a room arrives after its Left,
 * however requests overtake each other: on a single node and on a 2-node cluster.
 * Requests that must be read together are written in one TCP write, so that the host
 * reads them in one go, before any answer from the sequencer can come back.
 */
import { describe, expect, test } from 'vitest';
import { encodeClientRequest, PROTOCOL_VERSION, type ClientRequest, type ServerEvent } from '../../src/protocol/index.js';
import { encodeFrame, Opcode, RawWs } from '../helpers/raw-ws.js';
import { SharedHost, TOPOLOGIES } from '../helpers/shared-host.js';

/** Writes the requests as WebSocket frames in one TCP write. */
function writeTogether(client: RawWs, requests: readonly ClientRequest[]): void {
  const frames = requests.map((r) => encodeFrame({ opcode: Opcode.binary, payload: encodeClientRequest(r) }));
  client.write(Buffer.concat(frames));
}

const answerTo = (requestId: number) => (e: ServerEvent) => 'requestId' in e && e.requestId === requestId;

describe.each(TOPOLOGIES)('$name', (topology) => {
  const shared = new SharedHost(['--workers', '2'], topology);
  const connectRaw = async (): Promise<RawWs> => {
    const host = shared.hosts[Math.floor(Math.random() * shared.hosts.length)]!;
    const client = await RawWs.connect(host.port);
    await client.waitFor((e) => e.type === 'welcome');
    return client;
  };

  test('a Leave that overtakes its Join answers the Join with JoinCancelled, then Left; the late Joined is dropped', async () => {
    const client = await connectRaw();
    const join: ClientRequest = { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 1, room: 'overtaken', nickname: 'ann', since: null };
    writeTogether(client, [join, { type: 'leave', requestId: 2, room: 'overtaken' }]);
    const left = await client.waitFor(answerTo(2));
    expect(left).toMatchObject({ type: 'left', room: 'overtaken' });
    // Then a round trip through the sequencer: by its answer, a Joined for request 1 would have come.
    writeTogether(client, [{ ...join, requestId: 3 }]);
    expect(await client.waitFor(answerTo(3))).toMatchObject({ type: 'joined', room: 'overtaken' });
    const answersToJoin = client.events.filter(answerTo(1));
    expect(answersToJoin).toEqual([expect.objectContaining({ type: 'error', code: 'JoinCancelled', room: 'overtaken', temporary: false })]);
    // The cancelled join came before the Left.
    expect(client.events.indexOf(answersToJoin[0]!)).toBeLessThan(client.events.indexOf(left!));
    await client.close();
  });

  test('a refused Join that a Leave overtook is answered once, by JoinCancelled', async () => {
    const holder = await connectRaw();
    writeTogether(holder, [{ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 1, room: 'taken', nickname: 'bob', since: null }]);
    await holder.waitFor(answerTo(1));
    const client = await connectRaw();
    writeTogether(client, [
      { type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 1, room: 'taken', nickname: 'BOB', since: null },
      { type: 'leave', requestId: 2, room: 'taken' },
    ]);
    await client.waitFor(answerTo(2));
    // A round trip after: the NicknameTaken of request 1 has been dropped by then.
    writeTogether(client, [{ type: 'join', protocolVersion: PROTOCOL_VERSION, requestId: 3, room: 'taken', nickname: 'BOB', since: null }]);
    expect(await client.waitFor(answerTo(3))).toMatchObject({ type: 'error', code: 'NicknameTaken' });
    expect(client.events.filter(answerTo(1))).toEqual([expect.objectContaining({ type: 'error', code: 'JoinCancelled' })]);
    await Promise.all([client.close(), holder.close()]);
  });

  test('a private message in flight when its reader leaves the room is not delivered after the Left; its Sent still is', async () => {
    const ann = await connectRaw();
    const bob = await connectRaw();
    const join = (requestId: number, nickname: string): ClientRequest => ({
      type: 'join',
      protocolVersion: PROTOCOL_VERSION,
      requestId,
      room: 'whisper',
      nickname,
      since: null,
    });
    writeTogether(ann, [join(1, 'ann')]);
    const annJoined = await ann.waitFor(answerTo(1));
    writeTogether(bob, [join(1, 'bob')]);
    const bobJoined = await bob.waitFor(answerTo(1));
    if (annJoined?.type !== 'joined' || bobJoined?.type !== 'joined') throw new Error('joins failed');
    const annId = annJoined.you.id;
    const bobId = bobJoined.you.id;
    // Ann whispers to Bob and to herself, then leaves, in one write: both whispers are still on their way when the Left is sent.
    writeTogether(ann, [
      { type: 'say', requestId: 2, room: 'whisper', text: 'to bob', to: bobId },
      { type: 'say', requestId: 3, room: 'whisper', text: 'to me', to: annId },
      { type: 'leave', requestId: 4, room: 'whisper' },
    ]);
    // On a cluster, the whisper to Bob on the other node is answered after Redis took it.
    expect(await ann.waitFor(answerTo(2))).toMatchObject({ type: 'sent', room: 'whisper' });
    expect(await ann.waitFor(answerTo(3))).toMatchObject({ type: 'sent', room: 'whisper' });
    const left = ann.events.findIndex(answerTo(4));
    expect(ann.events[left]).toMatchObject({ type: 'left' });
    // Nothing of the room after the Left: neither the echo of the whisper to Bob nor the one to herself.
    expect(ann.events.slice(left).filter((e) => e.type === 'message')).toEqual([]);
    // Bob, still in the room, gets his.
    expect(await bob.waitFor((e) => e.type === 'message')).toMatchObject({ text: 'to bob', sender: { id: annId }, to: { id: bobId } });
    await Promise.all([ann.close(), bob.close()]);
  });
});
