// Node's Buffer, as far as contracts and their npm dependencies use it:
// a Uint8Array subclass with Node's encodings (utf8, hex, base64,
// base64url, latin1/binary, ascii, utf16le), from/alloc/concat/compare,
// toString/toJSON/equals/slice/copy/write/fill/indexOf and the integer and
// float readers and writers. The bulk codecs run in Rust (host.*); bytes
// travel to Rust as "binary strings" (one char per byte), because reading a
// typed array's memory from Rust would need unsafe code.
(function (host, internal) {
  'use strict';
  const U8 = Uint8Array;

  function toBuffer(u8) {
    return Object.setPrototypeOf(u8, Buffer.prototype);
  }

  // Bytes as a string of char codes 0..255, in chunks small enough for apply().
  const fromCharCode = String.fromCharCode;
  function bin(u8) {
    if (u8.length <= 8192) return fromCharCode.apply(null, u8);
    const parts = [];
    for (let i = 0; i < u8.length; i += 8192) parts.push(fromCharCode.apply(null, u8.subarray(i, i + 8192)));
    return parts.join('');
  }

  function Buffer(arg, encodingOrOffset, length) {
    if (typeof arg === 'number') {
      return Buffer.alloc(arg);
    }
    return Buffer.from(arg, encodingOrOffset, length);
  }
  Object.setPrototypeOf(Buffer, U8);
  Buffer.prototype = Object.create(U8.prototype);
  Object.defineProperty(Buffer.prototype, 'constructor', {
    value: Buffer, writable: true, configurable: true, enumerable: false,
  });
  Buffer.poolSize = 8192;

  function normEncoding(enc) {
    if (enc === undefined || enc === null || enc === '') return 'utf8';
    switch (String(enc).toLowerCase()) {
      case 'utf8': case 'utf-8': return 'utf8';
      case 'hex': return 'hex';
      case 'base64': return 'base64';
      case 'base64url': return 'base64url';
      case 'latin1': case 'binary': return 'latin1';
      case 'ascii': return 'ascii';
      case 'ucs2': case 'ucs-2': case 'utf16le': case 'utf-16le': return 'utf16le';
      default: {
        const err = new TypeError(`Unknown encoding: ${enc}`);
        err.code = 'ERR_UNKNOWN_ENCODING';
        throw err;
      }
    }
  }

  function encode(str, enc) {
    switch (normEncoding(enc)) {
      case 'utf8': return host.utf8Encode(str);
      case 'hex': return host.hexDecode(str);
      case 'base64': case 'base64url': return host.base64Decode(str);
      case 'latin1': case 'ascii': {
        const out = new U8(str.length);
        for (let i = 0; i < str.length; i++) out[i] = str.charCodeAt(i) & 0xff;
        return out;
      }
      case 'utf16le': {
        const out = new U8(str.length * 2);
        for (let i = 0; i < str.length; i++) {
          const c = str.charCodeAt(i);
          out[2 * i] = c & 0xff;
          out[2 * i + 1] = c >>> 8;
        }
        return out;
      }
    }
    return new U8(0);
  }

  function charsOf(u8, start, end, mask) {
    const parts = [];
    for (let i = start; i < end; i += 4096) {
      const chunk = [];
      const stop = Math.min(end, i + 4096);
      for (let j = i; j < stop; j++) chunk.push(u8[j] & mask);
      parts.push(String.fromCharCode.apply(null, chunk));
    }
    return parts.join('');
  }

  function decode(u8, enc, start, end) {
    switch (normEncoding(enc)) {
      case 'utf8': return host.utf8Decode(bin(u8.subarray(start, end)), false);
      case 'hex': return host.hexEncode(bin(u8.subarray(start, end)));
      case 'base64': return host.base64Encode(bin(u8.subarray(start, end)), false);
      case 'base64url': return host.base64Encode(bin(u8.subarray(start, end)), true);
      case 'latin1': return charsOf(u8, start, end, 0xff);
      case 'ascii': return charsOf(u8, start, end, 0x7f);
      case 'utf16le': {
        const parts = [];
        for (let i = start; i + 1 < end; i += 2) parts.push(String.fromCharCode(u8[i] | (u8[i + 1] << 8)));
        return parts.join('');
      }
    }
    return '';
  }

  function describe(value) {
    if (value === null) return 'null';
    if (typeof value === 'object') return `an instance of ${value.constructor ? value.constructor.name : 'Object'}`;
    return `type ${typeof value} (${String(value)})`;
  }

  function checkSize(size) {
    if (typeof size !== 'number' || !(size >= 0) || size > 0x7fffffff) {
      const err = new RangeError(`The argument 'size' is invalid. Received ${size}`);
      err.code = 'ERR_INVALID_ARG_VALUE';
      throw err;
    }
    return Math.floor(size);
  }

  Buffer.from = function from(value, encodingOrOffset, length) {
    if (typeof value === 'string') return toBuffer(encode(value, encodingOrOffset));
    if (value instanceof ArrayBuffer) {
      const offset = encodingOrOffset === undefined ? 0 : Number(encodingOrOffset) || 0;
      const len = length === undefined ? value.byteLength - offset : Number(length) || 0;
      return toBuffer(new U8(value, offset, len));
    }
    if (ArrayBuffer.isView(value)) {
      if (value instanceof DataView) {
        return toBuffer(new U8(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength)));
      }
      const out = new U8(value.length);
      out.set(value);
      return toBuffer(out);
    }
    if (value !== null && typeof value === 'object') {
      if (value.type === 'Buffer' && Array.isArray(value.data)) return toBuffer(new U8(value.data));
      if (Array.isArray(value) || typeof value.length === 'number') return toBuffer(new U8(value));
      const prim = value.valueOf();
      if (prim !== null && prim !== undefined && prim !== value) return Buffer.from(prim, encodingOrOffset, length);
      if (typeof value[Symbol.toPrimitive] === 'function') {
        return Buffer.from(value[Symbol.toPrimitive]('string'), encodingOrOffset, length);
      }
    }
    const err = new TypeError('The first argument must be of type string or an instance of Buffer, ArrayBuffer, ' +
      `or Array or an Array-like Object. Received ${describe(value)}`);
    err.code = 'ERR_INVALID_ARG_TYPE';
    throw err;
  };

  Buffer.alloc = function alloc(size, fill, encoding) {
    const buf = toBuffer(new U8(checkSize(size)));
    if (fill !== undefined && fill !== 0 && buf.length > 0) buf.fill(fill, 0, buf.length, encoding);
    return buf;
  };
  // Zero-filled, unlike Node: uninitialized memory would be nondeterministic.
  Buffer.allocUnsafe = function allocUnsafe(size) { return toBuffer(new U8(checkSize(size))); };
  Buffer.allocUnsafeSlow = Buffer.allocUnsafe;

  Buffer.isBuffer = function isBuffer(b) { return b instanceof Buffer; };
  Buffer.isEncoding = function isEncoding(enc) {
    try { return typeof enc === 'string' && normEncoding(enc) !== undefined; } catch (e) { return false; }
  };
  Buffer.byteLength = function byteLength(value, encoding) {
    if (typeof value === 'string') return encode(value, encoding).length;
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return value.byteLength;
    throw new TypeError(`The "string" argument must be of type string or an instance of Buffer or ArrayBuffer. Received ${describe(value)}`);
  };
  function compareBytes(a, b) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return a.length === b.length ? 0 : (a.length < b.length ? -1 : 1);
  }
  Buffer.compare = function compare(a, b) {
    if (!(a instanceof U8) || !(b instanceof U8)) {
      throw new TypeError('The "buf1" and "buf2" arguments must be one of type Buffer or Uint8Array');
    }
    return compareBytes(a, b);
  };
  Buffer.concat = function concat(list, totalLength) {
    if (!Array.isArray(list)) throw new TypeError('The "list" argument must be an instance of Array');
    let total = 0;
    for (const item of list) {
      if (!(item instanceof U8)) throw new TypeError('The "list" argument must contain only Buffer or Uint8Array instances');
      total += item.length;
    }
    if (totalLength !== undefined) total = checkSize(totalLength);
    const out = toBuffer(new U8(total));
    let pos = 0;
    for (const item of list) {
      if (pos >= total) break;
      const part = item.length > total - pos ? item.subarray(0, total - pos) : item;
      out.set(part, pos);
      pos += part.length;
    }
    return out;
  };

  const proto = Buffer.prototype;
  function clamp(v, dflt, len) {
    if (v === undefined) return dflt;
    v = Math.trunc(Number(v)) || 0;
    if (v < 0) v = 0;
    return v > len ? len : v;
  }
  proto.toString = function toString(encoding, start, end) {
    const len = this.length;
    start = clamp(start, 0, len);
    end = clamp(end, len, len);
    if (end <= start) return '';
    return decode(this, encoding, start, end);
  };
  proto.toLocaleString = proto.toString;
  proto.toJSON = function toJSON() { return { type: 'Buffer', data: Array.from(this) }; };
  proto.equals = function equals(other) {
    if (!(other instanceof U8)) throw new TypeError('The "otherBuffer" argument must be an instance of Buffer or Uint8Array');
    return compareBytes(this, other) === 0;
  };
  proto.compare = function compare(target, targetStart, targetEnd, sourceStart, sourceEnd) {
    if (!(target instanceof U8)) throw new TypeError('The "target" argument must be an instance of Buffer or Uint8Array');
    const t = target.subarray(clamp(targetStart, 0, target.length), clamp(targetEnd, target.length, target.length));
    const s = this.subarray(clamp(sourceStart, 0, this.length), clamp(sourceEnd, this.length, this.length));
    return compareBytes(s, t);
  };
  // Node's slice is a view, like subarray (Uint8Array's slice copies).
  proto.slice = function slice(start, end) { return this.subarray(start, end); };
  proto.copy = function copy(target, targetStart, sourceStart, sourceEnd) {
    const ts = clamp(targetStart, 0, target.length);
    const ss = clamp(sourceStart, 0, this.length);
    const se = clamp(sourceEnd, this.length, this.length);
    const n = Math.max(0, Math.min(se - ss, target.length - ts));
    target.set(this.subarray(ss, ss + n), ts);
    return n;
  };
  proto.write = function write(string, offset, length, encoding) {
    if (typeof offset === 'string') { encoding = offset; offset = 0; length = undefined; }
    else if (typeof length === 'string') { encoding = length; length = undefined; }
    const off = clamp(offset, 0, this.length);
    const bytes = encode(String(string), encoding);
    const max = length === undefined ? this.length - off : Math.min(clamp(length, 0, this.length), this.length - off);
    const n = Math.min(bytes.length, max);
    this.set(bytes.subarray(0, n), off);
    return n;
  };
  const u8fill = U8.prototype.fill;
  proto.fill = function fill(value, offset, end, encoding) {
    if (typeof offset === 'string') { encoding = offset; offset = 0; end = this.length; }
    else if (typeof end === 'string') { encoding = end; end = this.length; }
    const start = clamp(offset, 0, this.length);
    const stop = clamp(end, this.length, this.length);
    if (typeof value === 'number' || typeof value === 'boolean') {
      u8fill.call(this, Number(value) & 0xff, start, stop);
      return this;
    }
    const bytes = typeof value === 'string' ? encode(value, encoding) : value instanceof U8 ? value : encode(String(value));
    if (bytes.length === 0) { u8fill.call(this, 0, start, stop); return this; }
    for (let i = start, j = 0; i < stop; i++, j = (j + 1) % bytes.length) this[i] = bytes[j];
    return this;
  };
  const u8indexOf = U8.prototype.indexOf;
  function search(buf, value, byteOffset, encoding, last) {
    if (typeof byteOffset === 'string') { encoding = byteOffset; byteOffset = undefined; }
    if (typeof value === 'number') {
      value &= 0xff;
      if (!last) return u8indexOf.call(buf, value, byteOffset === undefined ? 0 : byteOffset);
    }
    const needle = typeof value === 'number' ? new U8([value]) : typeof value === 'string' ? encode(value, encoding) : value;
    const maxStart = buf.length - needle.length;
    if (maxStart < 0) return -1;
    let from = byteOffset === undefined ? (last ? maxStart : 0) : Math.trunc(Number(byteOffset)) || 0;
    if (from < 0) from += buf.length;
    const matchAt = (i) => {
      for (let j = 0; j < needle.length; j++) {
        if (buf[i + j] !== needle[j]) return false;
      }
      return true;
    };
    if (last) {
      for (let i = Math.min(from, maxStart); i >= 0; i--) if (matchAt(i)) return i;
    } else {
      for (let i = Math.max(from, 0); i <= maxStart; i++) if (matchAt(i)) return i;
    }
    return -1;
  }
  proto.indexOf = function indexOf(value, byteOffset, encoding) { return search(this, value, byteOffset, encoding, false); };
  proto.lastIndexOf = function lastIndexOf(value, byteOffset, encoding) { return search(this, value, byteOffset, encoding, true); };
  proto.includes = function includes(value, byteOffset, encoding) { return search(this, value, byteOffset, encoding, false) !== -1; };

  function view(buf) { return new DataView(buf.buffer, buf.byteOffset, buf.byteLength); }
  function checkOffset(buf, offset, size) {
    offset = offset === undefined ? 0 : offset;
    if (typeof offset !== 'number' || offset !== Math.floor(offset) || offset < 0 || offset + size > buf.length) {
      const err = new RangeError(`The value of "offset" is out of range. It must be >= 0 and <= ${buf.length - size}. Received ${offset}`);
      err.code = 'ERR_OUT_OF_RANGE';
      throw err;
    }
    return offset;
  }
  const numeric = [
    ['UInt8', 1, 'Uint8'], ['Int8', 1, 'Int8'], ['UInt16', 2, 'Uint16'], ['Int16', 2, 'Int16'],
    ['UInt32', 4, 'Uint32'], ['Int32', 4, 'Int32'], ['Float', 4, 'Float32'], ['Double', 8, 'Float64'],
    ['BigUInt64', 8, 'BigUint64'], ['BigInt64', 8, 'BigInt64'],
  ];
  for (const [name, size, dv] of numeric) {
    const getter = DataView.prototype['get' + dv];
    const setter = DataView.prototype['set' + dv];
    const ends = size === 1 ? [['', false]] : [['LE', true], ['BE', false]];
    for (const [suffix, little] of ends) {
      const read = function (offset) { return getter.call(view(this), checkOffset(this, offset, size), little); };
      const write = function (value, offset) {
        const off = checkOffset(this, offset, size);
        setter.call(view(this), off, value, little);
        return off + size;
      };
      proto['read' + name + suffix] = read;
      proto['write' + name + suffix] = write;
      if (name.startsWith('UInt') || name.startsWith('BigUInt')) {
        proto['read' + name.replace('UInt', 'Uint') + suffix] = read;
        proto['write' + name.replace('UInt', 'Uint') + suffix] = write;
      }
    }
  }

  internal.Buffer = Buffer;
  internal.toBuffer = toBuffer;
  internal.bin = bin;
  internal.bufferModule = {
    Buffer,
    constants: { MAX_LENGTH: 0x7fffffff, MAX_STRING_LENGTH: 0x3fffffff },
    kMaxLength: 0x7fffffff,
  };
})
