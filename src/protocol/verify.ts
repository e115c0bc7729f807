/**
 * A FlatBuffers verifier for our schema. The FlatBuffers TypeScript runtime reads
 * lazily and has no verifier: a truncated or hostile buffer yields zeros, garbage
 * offsets or exceptions from deep inside an accessor. Before any generated
 * accessor touches a frame, `verifyRoot` walks every field the schema defines,
 * following the rules of the C++ flatbuffers::Verifier: offsets and lengths inside
 * the buffer, vtables well formed, scalars aligned, strings NUL-terminated and
 * valid UTF-8, union types known, vector lengths and nesting bounded.
 */
import { ProtocolError } from './errors.js';
import { MAX_TABLE_DEPTH, MAX_VECTOR_LENGTH } from './limits.js';

export type FieldSpec =
  | { readonly kind: 'scalar'; readonly size: 1 | 2 | 4 | 8 }
  | { readonly kind: 'struct'; readonly size: number; readonly align: number }
  /** `maxBytes`: a bound on client input the host only compares (longer: STRING_TOO_LONG). */
  | { readonly kind: 'string'; readonly maxBytes?: number }
  | { readonly kind: 'table'; readonly table: () => TableSpec }
  | { readonly kind: 'tables'; readonly table: () => TableSpec }
  /** A union's type byte; its value is the next slot. `members[i - 1]` is type i. */
  | { readonly kind: 'unionType'; readonly members: readonly (() => TableSpec)[]; readonly required: boolean }
  | { readonly kind: 'unionValue' };

export interface TableSpec {
  readonly name: string;
  /** One entry per vtable slot, in schema order. */
  readonly fields: readonly FieldSpec[];
}

const SIZE_UOFFSET = 4;
const SIZE_VOFFSET = 2;

/** Verifies the buffer's root table against `spec`; throws ProtocolError on the first fault. */
export function verifyRoot(bytes: Uint8Array, spec: TableSpec): void {
  if (bytes.byteLength === 0) throw new ProtocolError('FRAME_EMPTY', 'empty frame');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < SIZE_UOFFSET + SIZE_VOFFSET * 2) {
    throw new ProtocolError('FRAME_TRUNCATED', `frame of ${bytes.byteLength} bytes is too short`);
  }
  // A finished FlatBuffer is padded to its largest alignment (at least 4): any other
  // length is a truncated (or padded) frame, even when the cut fell in trailing padding.
  if (bytes.byteLength % SIZE_UOFFSET !== 0) {
    throw new ProtocolError('FRAME_TRUNCATED', `frame length ${bytes.byteLength} is not a multiple of ${SIZE_UOFFSET}`);
  }
  new Walker(view, bytes).table(indirect(view, 0, 'root'), spec, 0);
}

function indirect(view: DataView, at: number, what: string): number {
  checkRange(view, at, SIZE_UOFFSET, what);
  checkAlign(at, SIZE_UOFFSET, what);
  const offset = view.getUint32(at, true);
  const target = at + offset;
  if (offset === 0 || target >= view.byteLength) {
    throw new ProtocolError('BAD_OFFSET', `${what}: offset ${offset} at ${at} points outside the frame`);
  }
  return target;
}

function checkRange(view: DataView, at: number, size: number, what: string): void {
  if (at < 0 || size < 0 || at + size > view.byteLength) {
    throw new ProtocolError('FRAME_TRUNCATED', `${what}: ${size} bytes at ${at} run past the end of the ${view.byteLength}-byte frame`);
  }
}

function checkAlign(at: number, align: number, what: string): void {
  if (at % align !== 0) throw new ProtocolError('FRAME_MISALIGNED', `${what}: position ${at} is not ${align}-byte aligned`);
}

class Walker {
  constructor(
    private readonly view: DataView,
    private readonly bytes: Uint8Array,
  ) {}

  table(at: number, spec: TableSpec, depth: number): void {
    if (depth > MAX_TABLE_DEPTH) throw new ProtocolError('TOO_DEEP', `${spec.name}: nested deeper than ${MAX_TABLE_DEPTH}`);
    const view = this.view;
    checkRange(view, at, SIZE_UOFFSET, spec.name);
    checkAlign(at, SIZE_UOFFSET, spec.name);
    const vtable = at - view.getInt32(at, true);
    checkRange(view, vtable, SIZE_VOFFSET * 2, `${spec.name} vtable`);
    checkAlign(vtable, SIZE_VOFFSET, `${spec.name} vtable`);
    const vtableSize = view.getUint16(vtable, true);
    const tableSize = view.getUint16(vtable + SIZE_VOFFSET, true);
    // The JS runtime reads vtable entries as signed 16-bit numbers: anything from
    // 0x8000 up would mean one thing here and another to the accessors.
    if (vtableSize < SIZE_VOFFSET * 2 || vtableSize % SIZE_VOFFSET !== 0 || vtableSize >= 0x8000) {
      throw new ProtocolError('BAD_VTABLE', `${spec.name}: vtable size ${vtableSize} is invalid`);
    }
    checkRange(view, vtable, vtableSize, `${spec.name} vtable`);
    if (tableSize < SIZE_UOFFSET || tableSize >= 0x8000) throw new ProtocolError('BAD_VTABLE', `${spec.name}: table size ${tableSize} is invalid`);
    checkRange(view, at, tableSize, spec.name);

    const slots = (vtableSize - SIZE_VOFFSET * 2) / SIZE_VOFFSET;
    const fieldAt = (slot: number): number => {
      if (slot >= slots) return 0;
      const offset = view.getUint16(vtable + SIZE_VOFFSET * (2 + slot), true);
      if (offset >= 0x8000) throw new ProtocolError('BAD_VTABLE', `${spec.name}: field offset ${offset} is out of range`);
      return offset === 0 ? 0 : at + offset;
    };

    for (let slot = 0; slot < spec.fields.length; slot++) {
      const field = spec.fields[slot]!;
      const pos = fieldAt(slot);
      const what = `${spec.name} field ${slot}`;
      if (pos === 0) {
        if (field.kind === 'unionType' && field.required) {
          throw new ProtocolError('MISSING_BODY', `${spec.name} has no body`);
        }
        continue;
      }
      const fieldEnd = (size: number): void => {
        if (pos + size > at + tableSize) {
          throw new ProtocolError('BAD_VTABLE', `${what}: ${size} bytes at offset ${pos - at} run past the ${tableSize}-byte table`);
        }
        checkRange(view, pos, size, what);
      };
      switch (field.kind) {
        case 'scalar':
          fieldEnd(field.size);
          checkAlign(pos, field.size, what);
          break;
        case 'struct':
          fieldEnd(field.size);
          checkAlign(pos, field.align, what);
          break;
        case 'string':
          fieldEnd(SIZE_UOFFSET);
          this.string(indirect(view, pos, what), what, field.maxBytes);
          break;
        case 'table':
          fieldEnd(SIZE_UOFFSET);
          this.table(indirect(view, pos, what), field.table(), depth + 1);
          break;
        case 'tables': {
          fieldEnd(SIZE_UOFFSET);
          const vector = indirect(view, pos, what);
          const length = this.vectorLength(vector, SIZE_UOFFSET, what);
          const element = field.table();
          for (let i = 0; i < length; i++) {
            this.table(indirect(view, vector + SIZE_UOFFSET * (1 + i), `${what}[${i}]`), element, depth + 1);
          }
          break;
        }
        case 'unionType': {
          fieldEnd(1);
          const type = view.getUint8(pos);
          const valuePos = fieldAt(slot + 1);
          if (type === 0) {
            if (field.required) throw new ProtocolError('MISSING_BODY', `${spec.name} has no body`);
            break;
          }
          const member = field.members[type - 1];
          if (!member) throw new ProtocolError('UNKNOWN_BODY', `${spec.name}: unknown body type ${type}`);
          if (valuePos === 0) throw new ProtocolError('MISSING_BODY', `${spec.name}: body type ${type} without a body`);
          if (valuePos + SIZE_UOFFSET > at + tableSize) throw new ProtocolError('BAD_VTABLE', `${what}: body runs past the table`);
          this.table(indirect(view, valuePos, `${what} body`), member(), depth + 1);
          slot++; // the value slot is verified with its type
          break;
        }
        case 'unionValue':
          // Reached only when the type slot is absent: a value without a type is ignored by readers.
          fieldEnd(SIZE_UOFFSET);
          break;
      }
    }
  }

  private vectorLength(at: number, elementSize: number, what: string): number {
    checkRange(this.view, at, SIZE_UOFFSET, what);
    checkAlign(at, SIZE_UOFFSET, what);
    const length = this.view.getUint32(at, true);
    if (length > MAX_VECTOR_LENGTH) throw new ProtocolError('VECTOR_TOO_LONG', `${what}: ${length} elements is over the limit of ${MAX_VECTOR_LENGTH}`);
    checkRange(this.view, at + SIZE_UOFFSET, length * elementSize, what);
    return length;
  }

  private string(at: number, what: string, maxBytes = MAX_VECTOR_LENGTH): void {
    const length = this.vectorLength(at, 1, what);
    if (length > maxBytes) throw new ProtocolError('STRING_TOO_LONG', `${what}: ${length} bytes is over the limit of ${maxBytes}`);
    const start = at + SIZE_UOFFSET;
    checkRange(this.view, start, length + 1, `${what} terminator`);
    if (this.bytes[start + length] !== 0) throw new ProtocolError('BAD_OFFSET', `${what}: string is not NUL-terminated`);
    if (!isValidUtf8(this.bytes, start, start + length)) throw new ProtocolError('BAD_UTF8', `${what}: string is not valid UTF-8`);
  }
}

/** RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
export function isValidUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const b0 = bytes[i]!;
    if (b0 < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      need = 1;
      min = 0x80;
      cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      min = 0x800;
      cp = b0 & 0x0f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      min = 0x10000;
      cp = b0 & 0x07;
    } else {
      return false;
    }
    if (i + need >= end) return false; // fewer continuation bytes than the lead byte promises
    for (let k = 1; k <= need; k++) {
      const b = bytes[i + k];
      if (b === undefined || (b & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}
