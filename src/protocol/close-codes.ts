/**
 * WebSocket close codes the host uses, in one table (README "Close codes").
 * 1000-1015 are RFC 6455 codes; 4000-4499 are ours. A client should reconnect
 * (with backoff) after 1001, 1006, 1011, 1012 and 4000-4099, and should not
 * reconnect unchanged after 1003, 1007, 1008, 1009 and 4100-4499.
 */
export const CloseCode = {
  /** The client asked to close. */
  Normal: 1000,
  /** The host is shutting down; reconnect later. */
  GoingAway: 1001,
  /** A text frame: the protocol is binary FlatBuffers only. */
  UnsupportedData: 1003,
  /** A binary frame that is not a valid protocol frame. */
  InvalidPayload: 1007,
  /** Requests kept coming faster than the rate limit for --rate-abuse-seconds. */
  PolicyViolation: 1008,
  /** A frame over the size limit. (Past 4x the limit, at least 64 KiB, uWS drops the TCP connection: 1006.) */
  MessageTooBig: 1009,
  /** The host hit an unexpected error serving this connection. */
  InternalError: 1011,
  /** The worker thread holding the connection is restarting; reconnect now. */
  ServiceRestart: 1012,
  /**
   * The client read too slowly: its send buffer passed --max-backpressure. Sent after what was buffered
   * (read before uWS gives up on the closing socket, it loses nothing up to here). Rejoin with `since`:
   * what the room said after the close comes back only while it is within --history, else
   * `recovered = false`, a gap to show (README "Operating the host").
   */
  TooSlow: 4001,
  /** With --token-secret: the token a room was joined with expired. Get a fresh token, reconnect and rejoin with `since`. */
  TokenExpired: 4002,
} as const;

export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** Close reasons must fit a control frame: at most 123 bytes of UTF-8. */
export const MAX_CLOSE_REASON_BYTES = 123;

const encoder = new TextEncoder();

/** Cuts a close reason to what a close frame can carry, on a character boundary. */
export function closeReason(text: string): string {
  if (encoder.encode(text).length <= MAX_CLOSE_REASON_BYTES) return text;
  let cut = '';
  let bytes = 0;
  for (const char of text) {
    const size = encoder.encode(char).length;
    if (bytes + size > MAX_CLOSE_REASON_BYTES - 3) break;
    cut += char;
    bytes += size;
  }
  return `${cut}...`;
}
