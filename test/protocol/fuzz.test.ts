/**
 * Mutation fuzzing of both decoders with the generator `npm run fuzz` uses
 * (test/helpers/fuzz/generator.ts): for every input, each decoder returns a complete,
 * correctly typed value or throws a ProtocolError (closeCode 1007); a decoded value
 * survives encode -> decode unchanged; a valid frame decodes to what was encoded.
 *
 * Deterministic: the cases are those of seed PROTOCOL_TEST_SEED (default 0x5eedc0de);
 * a failure names the seed and case index, replayable with
 * `npm run fuzz -- --seed S --replay INDEX`.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { type Verdict, checkCase } from '../helpers/fuzz/check.js';
import { CASE_KINDS, CLIENT_BODY_TYPES, type CaseKind, type FuzzCase, FuzzGenerator, SERVER_BODY_TYPES, hex } from '../helpers/fuzz/generator.js';
import { BASE_SEED } from './helpers.js';

const GENERATED_CASES = 100_000;
const TIMEOUT_MS = 60_000;
const generator = new FuzzGenerator(BASE_SEED);

/** How the cases of one kind were decided: 'ok' or ProtocolError code -> count, per decoder. */
type Tally = Map<string, number>;
const byKind = new Map<CaseKind, Tally>(CASE_KINDS.map((k) => [k, new Map()]));
let executed = 0;

function record(tally: Tally, verdict: Verdict): void {
  for (const code of [verdict.client, verdict.server]) tally.set(code, (tally.get(code) ?? 0) + 1);
}

/** Checks one case that is not from the generator's stream (exhaustive enumerations). */
function checkExtra(kind: CaseKind, bytes: Uint8Array, description: string, expected?: FuzzCase['expected']): Verdict {
  executed++;
  return checkCase({ seed: BASE_SEED, index: -1, kind, description, bytes, ...(expected ? { expected } : {}) });
}

// PROTOCOL_FUZZ_STATS=1 prints how the cases were decided (to see that mutations reach deep).
afterAll(() => {
  if (!process.env.PROTOCOL_FUZZ_STATS) return;
  for (const [kind, tally] of byKind) console.log(kind, Object.fromEntries(tally));
  console.log(`total ${executed} cases (seed ${BASE_SEED})`);
});

describe('fuzz: decoders return a complete value or throw ProtocolError', () => {
  test(`cases 0..${GENERATED_CASES - 1} of the generator's stream`, { timeout: TIMEOUT_MS }, () => {
    for (let index = 0; index < GENERATED_CASES; index++) {
      const fuzzCase: FuzzCase = generator.case(index);
      record(byKind.get(fuzzCase.kind)!, checkCase(fuzzCase));
      executed++;
    }
    // Every kind ran, and reached the faults it aims at (so the mutations go past the first check).
    const codes = (kind: CaseKind): string[] => [...byKind.get(kind)!.keys()];
    for (const kind of CASE_KINDS) expect(byKind.get(kind)!.size, kind).toBeGreaterThan(0);
    expect(codes('valid')).toContain('ok');
    expect(codes('truncate')).toEqual(expect.arrayContaining(['FRAME_EMPTY', 'FRAME_TRUNCATED']));
    expect(codes('bitflip')).toEqual(expect.arrayContaining(['ok', 'BAD_OFFSET', 'BAD_UTF8', 'BAD_VTABLE', 'UNKNOWN_BODY']));
    expect(codes('boundary')).toEqual(expect.arrayContaining(['ok', 'FRAME_MISALIGNED', 'BAD_VTABLE']));
    expect(codes('splice')).toContain('ok');
    expect(codes('hugeLength')).toEqual(expect.arrayContaining(['VECTOR_TOO_LONG', 'FRAME_TRUNCATED', 'BAD_OFFSET']));
    expect(codes('union')).toEqual(expect.arrayContaining(['ok', 'UNKNOWN_BODY', 'MISSING_BODY', 'BAD_OFFSET']));
    expect(codes('vtable')).toEqual(expect.arrayContaining(['BAD_VTABLE', 'FRAME_MISALIGNED']));
    expect(codes('unaligned')).toContain('FRAME_TRUNCATED');
    expect(codes('stacked')).toContain('ok');
  });

  test('every truncation and every single bit flip of every edge-value frame', { timeout: TIMEOUT_MS }, () => {
    const edges = generator.corpus.frames.filter((f) => !f.name.startsWith('random'));
    let truncations = 0;
    for (const frame of edges) {
      for (let length = 0; length < frame.bytes.length; length++) {
        const verdict = checkExtra('truncate', frame.bytes.slice(0, length), `${frame.name} cut to ${length} bytes`);
        // A cut frame is never the frame: whichever decoder it was for must refuse it.
        expect(verdict[frame.direction], `${frame.name} cut to ${length} bytes: ${hex(frame.bytes.slice(0, length))}`).not.toBe('ok');
        truncations++;
      }
      for (let bit = 0; bit < frame.bytes.length * 8; bit++) {
        const bytes = frame.bytes.slice();
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        checkExtra('bitflip', bytes, `${frame.name} with bit ${bit} flipped`);
      }
    }
    expect(truncations).toBeGreaterThan(1000);
  });

  test('union type byte set to every value', { timeout: TIMEOUT_MS }, () => {
    // The edge-value frames cover every body type of both directions; the random ones add little here.
    for (const frame of generator.corpus.frames.filter((f) => !f.name.startsWith('random'))) {
      const typeAt = frame.layout.unionTypes[0]!;
      for (let type = 0; type < 256; type++) {
        const bytes = frame.bytes.slice();
        bytes[typeAt] = type;
        const verdict = checkExtra('union', bytes, `${frame.name} with body type ${type}`);
        const expected = (members: number): string | undefined => (type === 0 ? 'MISSING_BODY' : type > members ? 'UNKNOWN_BODY' : undefined);
        const where = `${frame.name} with body type ${type}: ${hex(bytes)}`;
        if (expected(CLIENT_BODY_TYPES)) expect(verdict.client, where).toBe(expected(CLIENT_BODY_TYPES));
        if (expected(SERVER_BODY_TYPES)) expect(verdict.server, where).toBe(expected(SERVER_BODY_TYPES));
      }
    }
  });

  test('every corpus frame decodes to the value it stands for; the edge values cover every body type', () => {
    const edgeTypes = { client: new Set<number>(), server: new Set<number>() };
    for (const frame of generator.corpus.frames) {
      const verdict = checkExtra('valid', frame.bytes, frame.name, { direction: frame.direction, value: frame.value });
      expect(verdict[frame.direction], frame.name).toBe('ok');
      if (!frame.name.startsWith('random')) edgeTypes[frame.direction].add(frame.bytes[frame.layout.unionTypes[0]!]!);
    }
    const upTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
    expect([...edgeTypes.client].sort((a, b) => a - b)).toEqual(upTo(CLIENT_BODY_TYPES));
    expect([...edgeTypes.server].sort((a, b) => a - b)).toEqual(upTo(SERVER_BODY_TYPES));
    expect([CLIENT_BODY_TYPES, SERVER_BODY_TYPES]).toEqual([4, 10]);
  });

  test('a join without protocol_version on the wire (a protocol 1 client) is in the corpus and decodes as version 1', () => {
    const legacy = generator.corpus.frames.find((f) => f.name.includes('0 on the wire'));
    expect(legacy?.value).toMatchObject({ type: 'join', protocolVersion: 1 });
    // Join slot 4 absent: the vtable of the Join table is shorter than 5 slots, or its entry is 0.
    const join = legacy!.layout.tables[1]!;
    const dv = new DataView(legacy!.bytes.buffer, legacy!.bytes.byteOffset, legacy!.bytes.byteLength);
    const vtable = join - dv.getInt32(join, true);
    const entry = dv.getUint16(vtable, true) > 4 + 2 * 4 ? dv.getUint16(vtable + 4 + 2 * 4, true) : 0;
    expect(entry).toBe(0);
  });

  test('random values of every type: valid cases decode to what was encoded', () => {
    const types = new Map<string, number>();
    for (let index = 0; index < 4000; index++) {
      const fuzzCase = generator.case(index, 'valid');
      expect(checkCase(fuzzCase)[fuzzCase.expected!.direction]).toBe('ok');
      executed++;
      const key = `${fuzzCase.expected!.direction} ${fuzzCase.expected!.value.type}`;
      types.set(key, (types.get(key) ?? 0) + 1);
    }
    for (const type of ['client join', 'client members', 'server joined', 'server memberPage', 'server presence']) {
      expect(types.get(type) ?? 0, type).toBeGreaterThan(100);
    }
    expect(types.size).toBe(CLIENT_BODY_TYPES + SERVER_BODY_TYPES);
  });

  test('ran at least 100,000 generated cases', () => {
    expect(executed).toBeGreaterThanOrEqual(GENERATED_CASES);
  });
});
