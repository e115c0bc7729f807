/**
 * Resume keys: the secret of one membership, so that the same client can take its
 * nickname back from a connection that died (a node SIGKILLed, a network blip the
 * host has not noticed yet) at once, and nobody else can.
 *
 * The sequencer makes a key at every join and sends it in Joined only; it keeps a
 * hash of it with the member (in the Room, or in the member's value in Redis), so
 * neither memory nor Redis holds a key that would let someone in. A rejoin that
 * presents the key of the membership holding the nickname takes that membership
 * over: the old one ends (member-left, and its connection, if still open, is told
 * with a Left) and the new one gets the nickname and a new key.
 */
import { createHash, randomBytes } from 'node:crypto';

/** 18 random bytes: 144 bits, 24 characters of base64url. */
const KEY_BYTES = 18;

export interface ResumeSecret {
  /** For the client (Joined.resume_key). */
  readonly key: string;
  /** What the host keeps (resumeHash of the key). */
  readonly hash: string;
}

export function newResumeSecret(): ResumeSecret {
  const key = randomBytes(KEY_BYTES).toString('base64url');
  return { key, hash: resumeHash(key) };
}

/** The hash kept with a member, and compared with that of a presented key (hex SHA-256: no tab, no control character). */
export function resumeHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
