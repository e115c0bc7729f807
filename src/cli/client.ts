/**
 * Terminal client: joins a room and prints every event it receives as one JSON
 * object per line; stdin lines are said to the room or are commands (see
 * COMMANDS_HELP). Requests are paced to the rate limit the host announces in
 * Welcome, so piped input is slowed down, not refused. Once stdin has ended and
 * every request it sent has been answered (a room message by its own echo), it
 * closes and exits with one of EXIT (0 only when nothing was refused).
 *
 *   npm run client -- --url ws://127.0.0.1:8080 --room lobby --name ann
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { type ClientRequest, decodeServerFrame, encodeClientRequest, PROTOCOL_VERSION, ProtocolError, type ServerEvent } from '../protocol/index.js';
import { COMMANDS_HELP, type Command, parseLine } from './commands.js';
import { Pacer } from './pacer.js';

/** Exit codes, documented in the README and in --help. */
const EXIT = {
  ok: 0,
  /** The connection failed or was closed before everything was answered. */
  connection: 1,
  usage: 2,
  /** The host refused at least one request (an `error` line). */
  refused: 3,
  /** At least one input line was not a valid command and was not sent (an `input-error` line). */
  invalidInput: 4,
} as const;

const usage = 'usage: npm run client -- --url ws://HOST:PORT --room ROOM --name NAME [--token JWT]';
const help = `${usage}

Prints every event as one JSON line. Input lines:
${COMMANDS_HELP}

Exit codes:
  ${EXIT.ok}  stdin ended and every request was carried out
  ${EXIT.connection}  the connection failed, or the host closed it
  ${EXIT.usage}  bad arguments
  ${EXIT.refused}  the host refused a request (an "error" line); wins over ${EXIT.invalidInput}
  ${EXIT.invalidInput}  an input line was not a valid command and was not sent (an "input-error" line)
`;

function fail(message: string): never {
  process.stderr.write(`client: ${message}\n${usage}\n(--help for the commands and exit codes)\n`);
  process.exit(EXIT.usage);
}

function parseOptions() {
  const options = {
    url: { type: 'string' },
    room: { type: 'string' },
    name: { type: 'string' },
    token: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  try {
    return parseArgs({ options, strict: true }).values;
  } catch (error) {
    fail((error as Error).message);
  }
}
const { url, room, name, token, help: wantsHelp } = parseOptions();
if (wantsHelp) {
  process.stdout.write(help);
  process.exit(EXIT.ok);
}
if (!url || !room || !name) fail('--url, --room and --name are required');

function connect(address: string): WebSocket {
  let protocol: string;
  try {
    protocol = new URL(address).protocol;
  } catch {
    fail(`--url ${JSON.stringify(address)} is not a URL`);
  }
  if (protocol !== 'ws:' && protocol !== 'wss:') fail(`--url ${JSON.stringify(address)} is not a ws:// or wss:// URL`);
  try {
    return new WebSocket(address);
  } catch (error) {
    // ws refuses some URLs that parse (a fragment, for one).
    fail(`--url ${JSON.stringify(address)}: ${(error as Error).message}`);
  }
}

const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

const socket = connect(url);
socket.binaryType = 'nodebuffer';
let nextRequestId = 1;
/** Requests not yet answered, by id. */
const pending = new Map<number, ClientRequest>();
/** Room messages this client sent whose echo has not arrived yet ("room#seq"). */
const awaitingEcho = new Set<string>();
const echoed = new Set<string>();
/** Stdin lines not yet handled: they wait for the welcome, then for the pacer. */
const lines: string[] = [];
let stdinEnded = false;
let welcomed = false;
let closing = false;
/** Null until the welcome, and when the host does not announce its rate limit. */
let pacer: Pacer | null = null;
let pumpTimer: NodeJS.Timeout | null = null;
let refused = 0;
let invalidLines = 0;
/** Where `/more` goes on from: the last member page's prefix and cursor ('' after the last page). */
let paging = { prefix: '', after: '' };

// Stdin is paused while this many lines wait, so a huge file is not read into memory at once.
const LINES_HIGH = 1000;
const LINES_LOW = 100;

function send(request: ClientRequest): void {
  pacer?.take(performance.now());
  pending.set(request.requestId, request);
  socket.send(encodeClientRequest(request));
}

function finishIfDone(): void {
  if (closing || !stdinEnded || !welcomed || lines.length > 0 || pending.size > 0 || awaitingEcho.size > 0) return;
  closing = true;
  socket.close(1000, 'done');
}

/** The request a command makes, or null when it makes none. */
function requestFor(command: Command, requestId: number): ClientRequest | null {
  switch (command.kind) {
    case 'say':
      return { type: 'say', requestId, room: room!, text: command.text, to: command.to };
    case 'join':
      return { type: 'join', requestId, room: command.room, nickname: name!, since: null, token, protocolVersion: PROTOCOL_VERSION };
    case 'leave':
      return { type: 'leave', requestId, room: command.room };
    case 'members':
      return { type: 'members', requestId, room: room!, after: '', prefix: command.prefix, limit: 0 };
    case 'more':
      return paging.after === '' ? null : { type: 'members', requestId, room: room!, after: paging.after, prefix: paging.prefix, limit: 0 };
    default:
      return null;
  }
}

/** Handles waiting lines in order, as fast as the pacer lets requests go. */
function pump(): void {
  if (!welcomed || pumpTimer !== null) return;
  while (lines.length > 0) {
    const command = parseLine(lines[0]!);
    const request = requestFor(command, nextRequestId);
    if (request !== null && pacer !== null) {
      const wait = pacer.delay(performance.now());
      if (wait > 0) {
        pumpTimer = setTimeout(() => {
          pumpTimer = null;
          pump();
        }, wait);
        return;
      }
    }
    lines.shift();
    if (request !== null) {
      nextRequestId++;
      send(request);
    } else if (command.kind === 'invalid') {
      invalidLines++;
      print({ type: 'input-error', message: command.message });
    } else if (command.kind === 'more') print({ type: 'info', message: 'no more members: /members [PREFIX] starts again' });
    if (lines.length === LINES_LOW) input.resume();
  }
  finishIfDone();
}

function handleEvent(event: ServerEvent): void {
  print(event);
  switch (event.type) {
    case 'welcome':
      if (welcomed) break;
      welcomed = true;
      if (event.rateLimitPerSecond > 0 && event.rateBurst > 0) pacer = new Pacer(event.rateLimitPerSecond, event.rateBurst, performance.now());
      send({ type: 'join', requestId: nextRequestId++, room: room!, nickname: name!, since: null, token, protocolVersion: PROTOCOL_VERSION });
      pump();
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
    case 'error':
      refused++;
      pending.delete(event.requestId);
      break;
    case 'joined':
    case 'left':
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
  if (!closing || code !== 1000) process.exit(EXIT.connection);
  process.exit(refused > 0 ? EXIT.refused : invalidLines > 0 ? EXIT.invalidInput : EXIT.ok);
});
socket.on('error', (error: Error) => {
  process.stderr.write(`client: ${error.message}\n`);
  process.exit(EXIT.connection);
});

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  lines.push(line);
  if (lines.length === LINES_HIGH) input.pause();
  pump();
});
input.on('close', () => {
  stdinEnded = true;
  finishIfDone();
});
