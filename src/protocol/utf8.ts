/**
 * UTF-8 for short strings in plain JavaScript. TextEncoder/TextDecoder cost about a
 * microsecond per call in Node 20 whatever the length, which dominated encoding a
 * chat message (room, ids, names, text: five strings). Longer strings still go
 * through TextDecoder, which wins past a few dozen bytes.
 */

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const SHORT = 48;

let scratch = new Uint8Array(1024);

/**
 * UTF-8 bytes of `s` (lone surrogates become U+FFFD, as TextEncoder does) in a
 * scratch buffer that the next call overwrites: copy or consume at once.
 */
export function encodeUtf8(s: string): Uint8Array {
  if (s.length * 3 > scratch.length) scratch = new Uint8Array(s.length * 3);
  const out = scratch;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
    } else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          out[n++] = 0xf0 | (c >> 18);
          out[n++] = 0x80 | ((c >> 12) & 0x3f);
          out[n++] = 0x80 | ((c >> 6) & 0x3f);
          out[n++] = 0x80 | (c & 0x3f);
          continue;
        }
        c = 0xfffd;
      }
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return out.subarray(0, n);
}

/** Decodes bytes that the verifier has already found to be valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string {
  if (bytes.length > SHORT) return decoder.decode(bytes);
  let s = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    if (b < 0x80) {
      s += String.fromCharCode(b);
      i++;
    } else if (b < 0xe0) {
      s += String.fromCharCode(((b & 0x1f) << 6) | (bytes[i + 1]! & 0x3f));
      i += 2;
    } else if (b < 0xf0) {
      s += String.fromCharCode(((b & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f));
      i += 3;
    } else {
      const cp = ((b & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f);
      s += String.fromCodePoint(cp);
      i += 4;
    }
  }
  return s;
}
