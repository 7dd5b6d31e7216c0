// Seals the realm after the built-ins are installed, so that nothing one
// invocation does can be seen by the next (a warm runtime serves many):
// - every object reachable from the globals and the built-in modules is
//   frozen (SES-style "harden");
// - assignments that would hit a frozen inherited property ("the override
//   mistake": `MyError.prototype.name = ...`, `obj.toString = ...`) still
//   work, by turning those prototype properties into accessors that define
//   the property on the receiver;
// - existing globals become read-only; globals a contract adds are deleted
//   after every invocation (`internal.cleanup`).
(function (host, internal) {
  'use strict';
  const g = globalThis;

  // No threads, so no shared memory.
  delete g.SharedArrayBuffer;
  delete g.Atomics;
  const define = (name, value) => Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
  define('global', g);
  define('Buffer', internal.Buffer);
  define('TextEncoder', internal.TextEncoder);
  define('TextDecoder', internal.TextDecoder);
  define('console', internal.console);

  // Error.prepareStackTrace / stackTraceLimit are realm-wide hooks: pin them.
  for (const name of ['prepareStackTrace', 'stackTraceLimit']) {
    const d = Object.getOwnPropertyDescriptor(Error, name);
    if (d && d.configurable) {
      const value = d.get ? d.get.call(Error) : d.value;
      Object.defineProperty(Error, name, { get() { return value; }, set() {}, enumerable: false, configurable: false });
    }
  }

  function enableOverride(obj, name) {
    const desc = Object.getOwnPropertyDescriptor(obj, name);
    if (!desc || !('value' in desc) || !desc.configurable) return;
    const value = desc.value;
    Object.defineProperty(obj, name, {
      get() { return value; },
      set(newValue) {
        if (this === obj) {
          throw new TypeError(`Cannot assign to read only property '${String(name)}' of a frozen built-in object`);
        }
        Object.defineProperty(this, name, { value: newValue, writable: true, enumerable: true, configurable: true });
      },
      enumerable: desc.enumerable,
      configurable: false,
    });
  }
  const overrides = [
    [Object.prototype, ['constructor', 'toString', 'valueOf', 'toLocaleString', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable']],
    [Function.prototype, ['constructor', 'toString', 'call', 'apply', 'bind']],
    [Error.prototype, ['constructor', 'name', 'message', 'toString']],
    [Array.prototype, ['constructor', 'toString']],
    [Promise.prototype, ['constructor']],
    [Date.prototype, ['constructor', 'toString', 'toJSON']],
    [RegExp.prototype, ['constructor', 'toString']],
    [Map.prototype, ['constructor']],
    [Set.prototype, ['constructor']],
    [Uint8Array.prototype, ['constructor']],
    [Object.getPrototypeOf(Uint8Array.prototype), ['constructor', 'toString']],
    [internal.Buffer.prototype, ['constructor', 'toString', 'toJSON', 'equals', 'slice']],
  ];
  for (const E of [EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, InternalError, AggregateError]) {
    overrides.push([E.prototype, ['constructor', 'name', 'message']]);
  }
  for (const [obj, names] of overrides) names.forEach((n) => enableOverride(obj, n));
  // Cairn's own classes: every method may be shadowed on an instance.
  for (const proto of internal.ownPrototypes) {
    for (const name of Object.getOwnPropertyNames(proto)) enableOverride(proto, name);
  }

  const hardened = new WeakSet();
  function harden(root) {
    const stack = [root];
    while (stack.length) {
      const o = stack.pop();
      if (o === null || (typeof o !== 'object' && typeof o !== 'function') || o === g || hardened.has(o)) continue;
      hardened.add(o);
      Object.freeze(o);
      stack.push(Object.getPrototypeOf(o));
      for (const key of Reflect.ownKeys(o)) {
        const d = Object.getOwnPropertyDescriptor(o, key);
        if ('value' in d) stack.push(d.value);
        else stack.push(d.get, d.set);
      }
    }
  }
  const builtins = {
    buffer: internal.bufferModule,
    crypto: internal.cryptoModule,
    'fabric-contract-api': internal.contractApiModule,
    'fabric-shim': internal.shimModule,
    'fabric-shim-api': {},
    util: internal.utilModule,
  };
  for (const m of Object.values(builtins)) harden(m);
  for (const key of Reflect.ownKeys(g)) {
    const d = Object.getOwnPropertyDescriptor(g, key);
    if ('value' in d) harden(d.value);
    else { harden(d.get); harden(d.set); }
  }
  for (const key of Reflect.ownKeys(g)) {
    const d = Object.getOwnPropertyDescriptor(g, key);
    if (d.configurable || d.writable) {
      Object.defineProperty(g, key, 'value' in d ? { writable: false, configurable: false } : { configurable: false });
    }
  }
  const baseline = new Set(Reflect.ownKeys(g));

  internal.builtin = function builtin(name) { return builtins[name]; };

  // After an invocation: remove globals it added. False if the realm can no
  // longer be restored (the runtime is then discarded).
  internal.cleanup = function cleanup() {
    internal.endInvoke();
    if (!Object.isExtensible(g)) return false;
    const keys = Reflect.ownKeys(g);
    if (keys.length === baseline.size) return true;
    for (const key of keys) {
      if (!baseline.has(key) && !Reflect.deleteProperty(g, key)) return false;
    }
    return true;
  };
})
