/**
 * Send times inside message texts: '~t' + 15 decimal digits of microseconds on
 * this process's monotonic clock, padded with 'x' to the text length. The
 * generator is one process, so sender and receiver read the same clock.
 */
export const STAMP_MARKER = Buffer.from('~t');
export const STAMP_DIGITS = 15;
const STAMP_LENGTH = 2 + STAMP_DIGITS;

export function nowUs(): number {
  return Math.round(performance.now() * 1000);
}

/** A text of `bytes` ASCII bytes with room for a stamp at its start. */
export function stampText(bytes: number): string {
  if (bytes < STAMP_LENGTH) throw new Error(`texts shorter than ${STAMP_LENGTH} bytes cannot carry a send time`);
  return '~t' + '0'.repeat(STAMP_DIGITS) + 'x'.repeat(bytes - STAMP_LENGTH);
}

/** Writes `us` as the digits after the marker at `markerAt`. */
export function writeStamp(buf: Uint8Array, markerAt: number, us: number): void {
  let v = us;
  for (let i = markerAt + STAMP_LENGTH - 1; i >= markerAt + 2; i--) {
    buf[i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
}

/** The send time in [start, end), or -1 when the frame carries none. */
export function readStamp(buf: Buffer, start: number, end: number): number {
  const at = buf.indexOf(STAMP_MARKER, start);
  if (at < 0 || at + STAMP_LENGTH > end) return -1;
  let v = 0;
  for (let i = at + 2; i < at + STAMP_LENGTH; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}
