/**
 * The keys under which nicknames must be unique within a room: a name is taken when
 * another member's name has the same case-folded key (nicknameKey) or the same
 * look-alike skeleton. Kept apart from rules.ts because the confusables table (about
 * 100 KB) has no place in the browser bundle; the member order uses nicknameKey only.
 */
import unhomoglyph from 'unhomoglyph';
import { nicknameKey } from './rules.js';

// Drawn as nothing; Unicode's skeleton (TR39) drops them before mapping.
const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;
// The table maps U+1F16D to a string with a tab in it; a key holds no control characters
// (the cluster stores keys tab-separated).
const CONTROLS = /\p{Cc}/gu;
// A run of spaces shows as one in HTML.
const SPACES = / {2,}/g;

/**
 * How the name looks: Unicode's confusable skeleton (TR39: NFD, drop default-ignorables,
 * map each character to its prototype from confusables.txt, NFD again) of the name as
 * written, after compatibility normalization (fullwidth "Ａ" is "A"). Cyrillic "Тоm" is
 * "Tom", Greek "Ηelen" is "Helen", "Ian" (capital i) is "lan", "m" is "rn". Then case
 * folded, so that a look-alike of another case of a name ("Iisa" of "Lisa") is taken too.
 * Taken as written, not folded first: folding first would turn Cyrillic "Т" into "т",
 * which looks like no Latin letter, and let "Тom" pass for "Tom".
 */
export function nicknameSkeleton(name: string): string {
  const decomposed = name.normalize('NFKC').normalize('NFD').replace(IGNORABLE, '');
  return unhomoglyph(decomposed).replace(CONTROLS, '').normalize('NFD').toUpperCase().toLowerCase().replace(SPACES, ' ');
}

/** Both keys of a nickname; another name holding either of them makes it taken. */
export function nicknameKeys(name: string): readonly [caseFolded: string, skeleton: string] {
  return [nicknameKey(name), nicknameSkeleton(name)];
}
