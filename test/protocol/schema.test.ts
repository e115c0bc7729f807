/**
 * The hand-written verification specs in codec.ts must describe the same tables as the
 * generated code, and the generated code must match schema/chat.fbs.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { ClientBody } from '../../src/protocol/generated/chat/wire/client-body.js';
import { ServerBody } from '../../src/protocol/generated/chat/wire/server-body.js';
import { CLIENT_FRAME, SERVER_FRAME, TABLE_SPECS } from '../../src/protocol/index.js';
import type { FieldSpec, TableSpec } from '../../src/protocol/verify.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GENERATED = join(ROOT, 'src', 'protocol', 'generated', 'chat', 'wire');

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

function generatedSource(spec: TableSpec): string {
  return readFileSync(join(GENERATED, `${kebab(spec.name)}.ts`), 'utf8');
}

/** The `builder.addField<Kind>(slot, ...)` calls of a generated table, by slot. */
function generatedFields(source: string): Map<number, string> {
  const fields = new Map<number, string>();
  for (const m of source.matchAll(/builder\.addField(\w+)\((\d+),/g)) fields.set(Number(m[2]), m[1]!);
  return fields;
}

/** Which generated `addField*` writer each spec kind corresponds to. */
function expectedWriter(field: FieldSpec): readonly string[] {
  switch (field.kind) {
    case 'scalar':
      return [`Int${field.size * 8}`];
    case 'struct':
      return ['Struct'];
    case 'unionType':
      return ['Int8'];
    case 'string':
    case 'table':
    case 'tables':
    case 'unionValue':
      return ['Offset'];
  }
}

describe('verification specs match the generated code', () => {
  test('kebab-case file names', () => {
    expect(kebab('ClientFrame')).toBe('client-frame');
    expect(kebab('MemberJoined')).toBe('member-joined');
    expect(kebab('Member')).toBe('member');
    expect(kebab('MemberPage')).toBe('member-page');
    expect(kebab('Members')).toBe('members');
  });

  test('the protocol 2 tables have specs with the schema slot count', () => {
    const slots = (name: string): number | undefined => TABLE_SPECS.find((s) => s.name === name)?.fields.length;
    expect(['Join', 'Members', 'Joined', 'MemberPage', 'Presence'].map(slots)).toEqual([6, 4, 10, 4, 4]);
  });

  test('spec names are unique', () => {
    const names = TABLE_SPECS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
  });

  test.each(TABLE_SPECS.map((s) => [s.name, s] as const))('%s: startObject(N) equals fields.length', (_name, spec) => {
    const counts = [...generatedSource(spec).matchAll(/builder\.startObject\((\d+)\)/g)].map((m) => Number(m[1]));
    expect(counts, `exactly one startObject in ${kebab(spec.name)}.ts`).toHaveLength(1);
    expect(spec.fields.length).toBe(counts[0]);
  });

  test.each(TABLE_SPECS.map((s) => [s.name, s] as const))('%s: each slot has the kind and size of the generated field', (_name, spec) => {
    const writers = generatedFields(generatedSource(spec));
    expect([...writers.keys()].sort((a, b) => a - b)).toEqual(spec.fields.map((_f, i) => i));
    spec.fields.forEach((field, slot) => {
      expect(expectedWriter(field), `${spec.name} slot ${slot} (${field.kind})`).toContain(writers.get(slot));
    });
  });

  test.each(TABLE_SPECS.map((s) => [s.name, s] as const))('%s: a union type slot is directly followed by its value slot', (_name, spec) => {
    spec.fields.forEach((field, slot) => {
      if (field.kind === 'unionType') expect(spec.fields[slot + 1]?.kind, `${spec.name} slot ${slot + 1}`).toBe('unionValue');
      if (field.kind === 'unionValue') expect(spec.fields[slot - 1]?.kind, `${spec.name} slot ${slot - 1}`).toBe('unionType');
    });
  });

  test('every generated table has a spec', () => {
    const tables = readdirSync(GENERATED)
      .filter((file) => /builder\.startObject\(/.test(readFileSync(join(GENERATED, file), 'utf8')))
      .map((file) => file.replace(/\.ts$/, ''))
      .sort();
    expect(TABLE_SPECS.map((s) => kebab(s.name)).sort()).toEqual(tables);
  });

  test.each([
    ['ClientFrame', CLIENT_FRAME, ClientBody],
    ['ServerFrame', SERVER_FRAME, ServerBody],
  ] as const)('%s union members are in the order of the generated enum', (_name, spec, body) => {
    const unionType = spec.fields.find((f) => f.kind === 'unionType');
    if (unionType?.kind !== 'unionType') throw new Error(`${spec.name} has no union`);
    const enumNames = Object.entries(body)
      .filter(([, value]) => typeof value === 'number' && value !== 0)
      .sort(([, a], [, b]) => (a as number) - (b as number))
      .map(([key]) => key);
    expect(unionType.members.map((member) => member().name)).toEqual(enumNames);
  });

  test('table and vector-of-table slots read the generated accessor type at the same vtable offset', () => {
    // e.g. Joined slot 2 is `members(index: number, obj?:Member)` reading vtable offset 8.
    const accessor = /\w+\((index: ?number, )?obj\?:(\w+)\):\w+\|null \{\s*const offset = this\.bb!\.__offset\(this\.bb_pos, (\d+)\)/g;
    for (const spec of TABLE_SPECS) {
      const bySlot = new Map<number, { type: string; vector: boolean }>();
      for (const m of generatedSource(spec).matchAll(accessor)) {
        bySlot.set((Number(m[3]) - 4) / 2, { type: m[2]!, vector: m[1] !== undefined });
      }
      spec.fields.forEach((field, slot) => {
        if (field.kind !== 'table' && field.kind !== 'tables') return;
        expect(bySlot.get(slot), `${spec.name} slot ${slot}`).toEqual({ type: field.table().name, vector: field.kind === 'tables' });
      });
    }
  });
});

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

describe('generated code is up to date', () => {
  test.skipIf(!onPath('flatc'))('node schema/generate.mjs --check exits 0', { timeout: 60_000 }, () => {
    let output: string;
    try {
      output = execFileSync(process.execPath, ['schema/generate.mjs', '--check'], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      const e = error as { status?: number; stdout?: string; stderr?: string };
      throw new Error(`schema/generate.mjs --check exited ${e.status}: ${e.stderr ?? ''}${e.stdout ?? ''}`);
    }
    expect(output).toContain('in sync');
  });
});
