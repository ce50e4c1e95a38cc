// MessagePack for the Tickstorm web client, with no dependencies (the client ships without a
// build step). `decode` reads every format of the spec (https://msgpack.org/spec.html) because
// the server's snapshots arrive as MessagePack; `encode` writes plain JS values and exists so the
// tests can build inputs without a third-party encoder.
//
// Decoded values: ints and 64-bit ints become Number (above 2^53 they lose precision, as
// JSON would), str becomes string, bin a Uint8Array copy, maps plain objects with stringified
// keys, ext types `{type, data}`.

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/** Decodes exactly one MessagePack value from `input` (Uint8Array, ArrayBuffer or any view). */
export function decode(input) {
  const reader = new Reader(toBytes(input));
  const value = reader.value();
  const trailing = reader.bytes.length - reader.pos;
  if (trailing > 0) {
    throw new Error(`msgpack: ${trailing} trailing byte(s) after the value (at offset ${reader.pos})`);
  }
  return value;
}

function toBytes(input) {
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  // A plain Uint8Array over the same memory (also turns a Node Buffer into an ordinary view).
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeError("msgpack: decode expects a Uint8Array, an ArrayBuffer or an ArrayBuffer view");
}

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  // Reserves `n` bytes and returns where they start; every read goes through here, so
  // truncated input always fails with the same clear message.
  take(n) {
    const at = this.pos;
    if (at + n > this.bytes.length) {
      throw new Error(`msgpack: truncated input (needed ${n} byte(s) at offset ${at}, ${this.bytes.length - at} left)`);
    }
    this.pos = at + n;
    return at;
  }

  u8() { return this.view.getUint8(this.take(1)); }
  u16() { return this.view.getUint16(this.take(2)); }
  u32() { return this.view.getUint32(this.take(4)); }

  value() {
    const at = this.pos;
    const b = this.u8();
    if (b <= 0x7f) return b; // positive fixint
    if (b >= 0xe0) return b - 0x100; // negative fixint
    if (b <= 0x8f) return this.map(b & 0x0f);
    if (b <= 0x9f) return this.array(b & 0x0f);
    if (b <= 0xbf) return this.str(b & 0x1f);
    const v = this.view;
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return this.bin(this.u8());
      case 0xc5: return this.bin(this.u16());
      case 0xc6: return this.bin(this.u32());
      case 0xc7: return this.ext(this.u8());
      case 0xc8: return this.ext(this.u16());
      case 0xc9: return this.ext(this.u32());
      case 0xca: return v.getFloat32(this.take(4));
      case 0xcb: return v.getFloat64(this.take(8));
      case 0xcc: return this.u8();
      case 0xcd: return this.u16();
      case 0xce: return this.u32();
      case 0xcf: return Number(v.getBigUint64(this.take(8)));
      case 0xd0: return v.getInt8(this.take(1));
      case 0xd1: return v.getInt16(this.take(2));
      case 0xd2: return v.getInt32(this.take(4));
      case 0xd3: return Number(v.getBigInt64(this.take(8)));
      case 0xd4: return this.ext(1);
      case 0xd5: return this.ext(2);
      case 0xd6: return this.ext(4);
      case 0xd7: return this.ext(8);
      case 0xd8: return this.ext(16);
      case 0xd9: return this.str(this.u8());
      case 0xda: return this.str(this.u16());
      case 0xdb: return this.str(this.u32());
      case 0xdc: return this.array(this.u16());
      case 0xdd: return this.array(this.u32());
      case 0xde: return this.map(this.u16());
      case 0xdf: return this.map(this.u32());
      default: throw new Error(`msgpack: byte 0x${b.toString(16)} at offset ${at} is never used`);
    }
  }

  str(n) {
    const at = this.take(n);
    try {
      return utf8Decoder.decode(this.bytes.subarray(at, at + n));
    } catch {
      throw new Error(`msgpack: invalid UTF-8 in the string at offset ${at}`);
    }
  }

  bin(n) {
    const at = this.take(n);
    return this.bytes.slice(at, at + n); // a copy: the caller may keep it after the input is reused
  }

  ext(n) {
    const type = this.view.getInt8(this.take(1));
    return { type, data: this.bin(n) };
  }

  // Each element takes at least one byte: checking that first stops a forged huge length from
  // looping (or allocating) before the truncation is noticed.
  count(n, perItem) {
    if (n * perItem > this.bytes.length - this.pos) {
      throw new Error(`msgpack: truncated input (${n} element(s) announced at offset ${this.pos})`);
    }
  }

  array(n) {
    this.count(n, 1);
    const out = [];
    for (let i = 0; i < n; i++) out.push(this.value());
    return out;
  }

  map(n) {
    this.count(n, 2);
    const out = {};
    for (let i = 0; i < n; i++) {
      const key = String(this.value());
      // Define rather than assign, so a "__proto__" key stays data instead of a prototype.
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
}

/** Encodes a plain JS value: null/undefined, boolean, number, string, Uint8Array, array, object. */
export function encode(value) {
  const w = new Writer();
  w.value(value);
  return w.bytes.slice(0, w.length);
}

class Writer {
  constructor() {
    this.bytes = new Uint8Array(64);
    this.view = new DataView(this.bytes.buffer);
    this.length = 0;
  }

  // Grows the buffer (doubling) and returns the offset of `n` fresh bytes.
  room(n) {
    if (this.length + n > this.bytes.length) {
      const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
      bigger.set(this.bytes);
      this.bytes = bigger;
      this.view = new DataView(bigger.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  // room() may swap the buffer, so it runs before this.bytes / this.view are read.
  u8(b) {
    const at = this.room(1);
    this.bytes[at] = b;
  }
  head(tag, setter, n, v) {
    this.u8(tag);
    const at = this.room(n);
    this.view[setter](at, v);
  }
  raw(data) {
    const at = this.room(data.length);
    this.bytes.set(data, at);
  }

  value(v) {
    if (v === null || v === undefined) this.u8(0xc0);
    else if (typeof v === "boolean") this.u8(v ? 0xc3 : 0xc2);
    else if (typeof v === "number") this.number(v);
    else if (typeof v === "string") this.str(v);
    else if (v instanceof Uint8Array) this.bin(v);
    else if (Array.isArray(v)) {
      this.length32(v.length, 0x90, 0xdc);
      for (const item of v) this.value(item);
    } else if (typeof v === "object") {
      const keys = Object.keys(v);
      this.length32(keys.length, 0x80, 0xde);
      for (const k of keys) {
        this.str(k);
        this.value(v[k]);
      }
    } else {
      throw new TypeError(`msgpack: cannot encode a value of type ${typeof v}`);
    }
  }

  // fixarray/fixmap for up to 15 elements, then the 16- and 32-bit forms.
  length32(n, fixTag, tag16) {
    if (n < 16) this.u8(fixTag | n);
    else if (n <= 0xffff) this.head(tag16, "setUint16", 2, n);
    else this.head(tag16 + 1, "setUint32", 4, n);
  }

  number(v) {
    // Integers go in the smallest int format; fractions, -0, NaN, Infinity and huge values as float64.
    if (!Number.isInteger(v) || Object.is(v, -0) || v < -(2 ** 63) || v >= 2 ** 64) this.head(0xcb, "setFloat64", 8, v);
    else if (v >= 0) {
      if (v < 0x80) this.u8(v);
      else if (v <= 0xff) this.head(0xcc, "setUint8", 1, v);
      else if (v <= 0xffff) this.head(0xcd, "setUint16", 2, v);
      else if (v <= 0xffffffff) this.head(0xce, "setUint32", 4, v);
      else this.head(0xcf, "setBigUint64", 8, BigInt(v));
    } else if (v >= -32) this.u8(v + 0x100);
    else if (v >= -0x80) this.head(0xd0, "setInt8", 1, v);
    else if (v >= -0x8000) this.head(0xd1, "setInt16", 2, v);
    else if (v >= -0x80000000) this.head(0xd2, "setInt32", 4, v);
    else this.head(0xd3, "setBigInt64", 8, BigInt(v));
  }

  str(s) {
    const data = utf8Encoder.encode(s);
    const n = data.length;
    if (n < 32) this.u8(0xa0 | n);
    else if (n <= 0xff) this.head(0xd9, "setUint8", 1, n);
    else if (n <= 0xffff) this.head(0xda, "setUint16", 2, n);
    else this.head(0xdb, "setUint32", 4, n);
    this.raw(data);
  }

  bin(data) {
    const n = data.length;
    if (n <= 0xff) this.head(0xc4, "setUint8", 1, n);
    else if (n <= 0xffff) this.head(0xc5, "setUint16", 2, n);
    else this.head(0xc6, "setUint32", 4, n);
    this.raw(data);
  }
}
