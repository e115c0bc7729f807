import { CloseCode } from './close-codes.js';

/** Stable string codes for frames that cannot be decoded. */
export type ProtocolErrorCode =
  | 'FRAME_EMPTY'
  | 'FRAME_TRUNCATED'
  | 'FRAME_MISALIGNED'
  | 'BAD_OFFSET'
  | 'BAD_VTABLE'
  | 'BAD_UTF8'
  | 'VECTOR_TOO_LONG'
  | 'STRING_TOO_LONG'
  | 'TOO_DEEP'
  | 'UNKNOWN_BODY'
  | 'MISSING_BODY';

/**
 * The one error a decoder throws: the frame is not a valid frame of our protocol.
 * The server answers it by closing the connection with `closeCode`.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  readonly closeCode: number;

  constructor(code: ProtocolErrorCode, message: string, closeCode: number = CloseCode.InvalidPayload) {
    super(message);
    this.code = code;
    this.closeCode = closeCode;
  }
}
