// TextEncoder/TextDecoder (UTF-8), console (routed to the peer's log at
// debug level), and a small Node-compatible `util` module: format,
// inspect, inherits, promisify, deprecate, types, isDeepStrictEqual.
(function (host, internal) {
  'use strict';
  const Buffer = internal.Buffer;

  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(input = '') { return host.utf8Encode(String(input)); }
    encodeInto(source, destination) {
      const str = String(source);
      let read = 0;
      let written = 0;
      for (const ch of str) {
        const bytes = host.utf8Encode(ch);
        if (written + bytes.length > destination.length) break;
        destination.set(bytes, written);
        written += bytes.length;
        read += ch.length;
      }
      return { read, written };
    }
  }

  const UTF8_LABELS = ['utf-8', 'utf8', 'unicode-1-1-utf-8'];
  class TextDecoder {
    constructor(label = 'utf-8', options = {}) {
      const l = String(label).trim().toLowerCase();
      if (!UTF8_LABELS.includes(l)) {
        const err = new RangeError(`The "${label}" encoding is not supported: Cairn contracts decode UTF-8 only`);
        err.code = 'ERR_ENCODING_NOT_SUPPORTED';
        throw err;
      }
      this._fatal = Boolean(options && options.fatal);
      this._ignoreBOM = Boolean(options && options.ignoreBOM);
    }
    get encoding() { return 'utf-8'; }
    get fatal() { return this._fatal; }
    get ignoreBOM() { return this._ignoreBOM; }
    decode(input) {
      if (input === undefined || input === null) return '';
      let u8;
      if (input instanceof ArrayBuffer) u8 = new Uint8Array(input);
      else if (ArrayBuffer.isView(input)) u8 = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
      else throw new TypeError('The "input" argument must be an instance of ArrayBuffer or ArrayBufferView');
      let start = 0;
      if (!this._ignoreBOM && u8.length >= 3 && u8[0] === 0xef && u8[1] === 0xbb && u8[2] === 0xbf) start = 3;
      return host.utf8Decode(internal.bin(u8.subarray(start)), this._fatal);
    }
  }

  const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
  function quote(s) { return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`; }
  function fnName(f) {
    const src = Function.prototype.toString.call(f);
    if (src.startsWith('class')) return `[class ${f.name || '(anonymous)'}]`;
    return f.name ? `[Function: ${f.name}]` : '[Function (anonymous)]';
  }
  function inspect(value, opts) {
    const depth = opts && typeof opts.depth === 'number' ? opts.depth : (opts && opts.depth === null ? Infinity : 2);
    const seen = [];
    function fmt(v, level, nested) {
      switch (typeof v) {
        case 'string': return nested ? quote(v) : v;
        case 'number': return Object.is(v, -0) ? '-0' : String(v);
        case 'bigint': return `${v}n`;
        case 'boolean': case 'undefined': return String(v);
        case 'symbol': return v.toString();
        case 'function': return fnName(v);
      }
      if (v === null) return 'null';
      if (seen.includes(v)) return '[Circular *1]';
      if (v instanceof Buffer) {
        const shown = Array.from(v.subarray(0, 50), (b) => (b < 16 ? '0' : '') + b.toString(16)).join(' ');
        const more = v.length > 50 ? ` ... ${v.length - 50} more bytes` : '';
        return `<Buffer${shown ? ' ' + shown : ''}${more}>`;
      }
      if (v instanceof Error) return v.stack ? `${v.name}: ${v.message}\n${v.stack}`.trimEnd() : `${v.name}: ${v.message}`;
      if (v instanceof Date) return isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
      if (v instanceof RegExp) return String(v);
      if (v instanceof Promise) return 'Promise { <unknown> }';
      const ctor = v.constructor && typeof v.constructor === 'function' ? v.constructor.name : '';
      if (level > depth) return Array.isArray(v) ? '[Array]' : `[${ctor || 'Object'}]`;
      seen.push(v);
      try {
        if (Array.isArray(v) || ArrayBuffer.isView(v)) {
          const items = [];
          const n = Math.min(v.length, 100);
          for (let i = 0; i < n; i++) items.push(fmt(v[i], level + 1, true));
          if (v.length > 100) items.push(`... ${v.length - 100} more items`);
          const prefix = Array.isArray(v) ? '' : `${ctor}(${v.length}) `;
          return items.length ? `${prefix}[ ${items.join(', ')} ]` : `${prefix}[]`;
        }
        if (v instanceof Map) {
          const items = Array.from(v, ([k, val]) => `${fmt(k, level + 1, true)} => ${fmt(val, level + 1, true)}`);
          return `Map(${v.size}) {${items.length ? ' ' + items.join(', ') + ' ' : ''}}`;
        }
        if (v instanceof Set) {
          const items = Array.from(v, (val) => fmt(val, level + 1, true));
          return `Set(${v.size}) {${items.length ? ' ' + items.join(', ') + ' ' : ''}}`;
        }
        const keys = Object.keys(v);
        const items = keys.map((k) => `${IDENT.test(k) ? k : quote(k)}: ${fmt(v[k], level + 1, true)}`);
        const body = items.length ? `{ ${items.join(', ')} }` : '{}';
        if (Object.getPrototypeOf(v) === null) return `[Object: null prototype] ${body}`;
        return ctor && ctor !== 'Object' ? `${ctor} ${body}` : body;
      } finally {
        seen.pop();
      }
    }
    return fmt(value, 0, false);
  }

  function format(first, ...args) {
    if (typeof first !== 'string') return [first, ...args].map((a) => inspect(a)).join(' ');
    let i = 0;
    let out = first.replace(/%[sdifjoOc%]/g, (m) => {
      if (m === '%%') return '%';
      if (i >= args.length) return m;
      const a = args[i++];
      switch (m) {
        case '%s': return typeof a === 'string' ? a : typeof a === 'bigint' ? `${a}n` : typeof a === 'object' && a !== null ? inspect(a, { depth: 1 }) : String(a);
        case '%d': return typeof a === 'bigint' ? `${a}n` : typeof a === 'object' ? 'NaN' : String(Number(a));
        case '%i': return typeof a === 'bigint' ? `${a}n` : String(parseInt(a, 10));
        case '%f': return String(parseFloat(a));
        case '%j': try { return JSON.stringify(a); } catch (e) { return '[Circular]'; }
        case '%o': case '%O': return inspect(a, { depth: 4 });
        case '%c': return '';
      }
      return m;
    });
    for (; i < args.length; i++) out += ' ' + (typeof args[i] === 'string' ? args[i] : inspect(args[i]));
    return out;
  }

  const counts = new Map();
  // Nothing is formatted unless the peer logs console output (off by default).
  function emit(level, text) { if (host.logEnabled()) host.log(level, text()); }
  function logger(level) {
    return function (...args) { emit(level, () => format(...args)); };
  }
  const console = {
    log: logger('log'), info: logger('info'), warn: logger('warn'), error: logger('error'),
    debug: logger('debug'), trace: logger('trace'),
    dir(obj, options) { emit('dir', () => inspect(obj, options)); },
    table(data) { emit('table', () => inspect(data)); },
    assert(cond, ...msg) { if (!cond) emit('assert', () => 'Assertion failed' + (msg.length ? ': ' + format(...msg) : '')); },
    count(label = 'default') { const n = (counts.get(label) || 0) + 1; counts.set(label, n); emit('count', () => `${label}: ${n}`); },
    countReset(label = 'default') { counts.delete(label); },
    group() {}, groupCollapsed() {}, groupEnd() {},
    // No clock in the sandbox: timers report nothing.
    time() {}, timeEnd() {}, timeLog() {},
  };

  function inherits(ctor, superCtor) {
    Object.defineProperty(ctor, 'super_', { value: superCtor, writable: true, configurable: true });
    Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
  }
  function promisify(fn) {
    if (typeof fn !== 'function') throw new TypeError('The "original" argument must be of type function');
    return function (...args) {
      return new Promise((resolve, reject) => {
        fn.call(this, ...args, (err, ...values) => (err ? reject(err) : resolve(values.length > 1 ? values : values[0])));
      });
    };
  }
  function isDeepStrictEqual(a, b) {
    if (Object.is(a, b)) return true;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    if (a instanceof Date) return a.getTime() === b.getTime();
    if (ArrayBuffer.isView(a)) return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
    if (a instanceof Map || a instanceof Set) {
      if (a.size !== b.size) return false;
      for (const [k, v] of a.entries()) if (!b.has(k) || (a instanceof Map && !isDeepStrictEqual(v, b.get(k)))) return false;
      return true;
    }
    const ka = Reflect.ownKeys(a);
    const kb = Reflect.ownKeys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && isDeepStrictEqual(a[k], b[k]));
  }
  const types = {
    isDate: (v) => v instanceof Date,
    isRegExp: (v) => v instanceof RegExp,
    isPromise: (v) => v instanceof Promise,
    isMap: (v) => v instanceof Map,
    isSet: (v) => v instanceof Set,
    isTypedArray: (v) => ArrayBuffer.isView(v) && !(v instanceof DataView),
    isUint8Array: (v) => v instanceof Uint8Array,
    isArrayBuffer: (v) => v instanceof ArrayBuffer,
    isAnyArrayBuffer: (v) => v instanceof ArrayBuffer,
    isNativeError: (v) => v instanceof Error,
    isAsyncFunction: (v) => typeof v === 'function' && v[Symbol.toStringTag] === 'AsyncFunction',
  };

  internal.TextEncoder = TextEncoder;
  internal.TextDecoder = TextDecoder;
  internal.console = console;
  internal.inspect = inspect;
  internal.format = format;
  internal.utilModule = {
    format, inspect, inherits, promisify, isDeepStrictEqual, types, TextEncoder, TextDecoder,
    deprecate: (fn) => fn,
    debuglog: () => function debuglog() {},
    isArray: Array.isArray,
    isBuffer: (v) => v instanceof Buffer,
    isString: (v) => typeof v === 'string',
    isNumber: (v) => typeof v === 'number',
    isObject: (v) => v !== null && typeof v === 'object',
    isFunction: (v) => typeof v === 'function',
    isUndefined: (v) => v === undefined,
    isNullOrUndefined: (v) => v === null || v === undefined,
  };
  internal.resetConsole = () => counts.clear();
})
