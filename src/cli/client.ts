/**
 * Terminal client: joins a room and prints every event it receives as one JSON
 * object per line; stdin lines are said to the room (`/to ID text` privately,
 * `/join ROOM`, `/leave ROOM`, `/members [PREFIX]` for the first page of the room's
 * members whose names start with PREFIX, `/more` for the next page). Exits 0 once
 * stdin has ended and every request it sent has been answered (a room message by
 * its own echo).
 *
 *   npm run client -- --url ws://127.0.0.1:8080 --room lobby --name ann
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { type ClientRequest, decodeServerFrame, encodeClientRequest, PROTOCOL_VERSION, ProtocolError, type ServerEvent } from '../protocol/index.js';

const usage = 'usage: npm run client -- --url ws://HOST:PORT --room ROOM --name NAME [--token JWT]';

function fail(message: string): never {
  process.stderr.write(`client: ${message}\n${usage}\n`);
  process.exit(2);
}

function parseOptions() {
  const options = { url: { type: 'string' }, room: { type: 'string' }, name: { type: 'string' }, token: { type: 'string' } } as const;
  try {
    return parseArgs({ options, strict: true }).values;
  } catch (error) {
    fail((error as Error).message);
  }
}
const { url, room, name, token } = parseOptions();
if (!url || !room || !name) fail('--url, --room and --name are required');

const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

const socket = new WebSocket(url);
socket.binaryType = 'nodebuffer';
let nextRequestId = 1;
/** Requests not yet answered, by id. */
const pending = new Map<number, ClientRequest>();
/** Room messages this client sent whose echo has not arrived yet ("room#seq"). */
const awaitingEcho = new Set<string>();
const echoed = new Set<string>();
let stdinEnded = false;
let welcomed = false;
const queued: string[] = [];
/** Where `/more` goes on from: the last member page's prefix and cursor ('' after the last page). */
let paging = { prefix: '', after: '' };

function send(request: ClientRequest): void {
  pending.set(request.requestId, request);
  socket.send(encodeClientRequest(request));
}

function finishIfDone(): void {
  if (stdinEnded && welcomed && pending.size === 0 && awaitingEcho.size === 0) socket.close(1000, 'done');
}

function handleLine(line: string): void {
  const requestId = nextRequestId++;
  const to = /^\/to\s+(\S+)\s+([\s\S]+)$/.exec(line);
  // The whole rest of the line is the room, so that a bad name gets the host's error, not a broadcast.
  const join = /^\/join\s+(.+?)\s*$/.exec(line);
  const leave = /^\/leave\s+(.+?)\s*$/.exec(line);
  const members = /^\/members(?:\s+(\S+))?\s*$/.exec(line);
  if (to) send({ type: 'say', requestId, room: room!, text: to[2]!, to: to[1]! });
  else if (join) send({ type: 'join', requestId, room: join[1]!, nickname: name!, since: null, token, protocolVersion: PROTOCOL_VERSION });
  else if (leave) send({ type: 'leave', requestId, room: leave[1]! });
  else if (members) send({ type: 'members', requestId, room: room!, after: '', prefix: members[1] ?? '', limit: 0 });
  else if (line.trim() === '/more') {
    if (paging.after === '') print({ type: 'info', message: 'no more members: /members [PREFIX] starts again' });
    else send({ type: 'members', requestId, room: room!, after: paging.after, prefix: paging.prefix, limit: 0 });
  } else if (line.trim().length > 0) send({ type: 'say', requestId, room: room!, text: line, to: null });
}

function handleEvent(event: ServerEvent): void {
  print(event);
  switch (event.type) {
    case 'welcome':
      welcomed = true;
      send({ type: 'join', requestId: nextRequestId++, room: room!, nickname: name!, since: null, token, protocolVersion: PROTOCOL_VERSION });
      for (const line of queued.splice(0)) handleLine(line);
      break;
    case 'message': {
      const key = `${event.room}#${event.seq}`;
      if (awaitingEcho.delete(key) === false && event.seq > 0) echoed.add(key);
      break;
    }
    case 'sent': {
      pending.delete(event.requestId);
      const key = `${event.room}#${event.seq}`;
      // The echo and the reply travel separately; either may come first.
      if (event.seq > 0 && !echoed.delete(key)) awaitingEcho.add(key);
      break;
    }
    case 'memberPage': {
      const request = pending.get(event.requestId);
      pending.delete(event.requestId);
      if (request?.type === 'members') paging = { prefix: request.prefix, after: event.nextAfter };
      break;
    }
    case 'joined':
    case 'left':
    case 'error':
      pending.delete(event.requestId);
      break;
    default:
      break;
  }
  finishIfDone();
}

socket.on('message', (data: Buffer, isBinary: boolean) => {
  if (!isBinary) return print({ type: 'protocol-error', message: 'unexpected text frame' });
  try {
    handleEvent(decodeServerFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    print({ type: 'protocol-error', code: error.code, message: error.message });
  }
});
socket.on('close', (code: number, reason: Buffer) => {
  print({ type: 'closed', code, reason: reason.toString() });
  process.exit(code === 1000 && stdinEnded ? 0 : 1);
});
socket.on('error', (error: Error) => {
  process.stderr.write(`client: ${error.message}\n`);
  process.exit(1);
});

const input = createInterface({ input: process.stdin });
input.on('line', (line) => (welcomed ? handleLine(line) : queued.push(line)));
input.on('close', () => {
  stdinEnded = true;
  finishIfDone();
});
