// fabric-contract-api 2.x: Contract, Context, JSONSerializer and the
// decorators. Decorators record what Fabric's metadata would (transactions,
// default contract, info) for the current invocation; @Transaction-marked
// methods become the only callable transactions of their class, as in Fabric.
(function (host, internal) {
  'use strict';
  const { Buffer } = internal;

  class Context {
    constructor() {}
    setChaincodeStub(stub) { this.stub = stub; }
    setClientIdentity(clientIdentity) { this.clientIdentity = clientIdentity; }
  }

  class Contract {
    constructor(name) {
      this.__isContract = true;
      if (typeof name === 'undefined' || name === null) {
        this.name = this.constructor.name;
      } else {
        this.name = name.trim();
      }
    }
    static _isContract(obj) { return obj instanceof Contract || Boolean(obj && obj.__isContract); }
    async beforeTransaction() {}
    async afterTransaction() {}
    async aroundTransaction(ctx, fn, parameters) { return this[fn](ctx, ...parameters); }
    async unknownTransaction(ctx) {
      const { fcn } = ctx.stub.getFunctionAndParameters();
      throw new Error(`You've asked to invoke a function that does not exist: ${fcn}`);
    }
    createContext() { return new Context(); }
    getName() { return this.name; }
  }

  // Decorators work both as TypeScript legacy decorators and as plain calls.
  function Transaction(commit = true) {
    return (target, propertyKey) => {
      const meta = internal.current.transactions;
      const list = meta.get(target) || [];
      list.push({ name: propertyKey, tags: commit ? ['SUBMIT', 'submitTx'] : ['EVALUATE'] });
      meta.set(target, list);
    };
  }
  function Default() {
    return (target) => {
      if (internal.current.defaultContract) throw new Error('A default has already been specified');
      internal.current.defaultContract = new target().getName();
    };
  }
  function Info(info = {}) {
    return (target) => { internal.current.info.set(target.name, Object.assign({ title: '', version: '' }, info)); };
  }
  const noopDecorator = () => () => {};
  const Returns = noopDecorator;
  const Param = noopDecorator;
  const Property = noopDecorator;
  const ObjectDecorator = noopDecorator;

  class JSONSerializer {
    toBuffer(result) {
      if (typeof result === 'undefined' || result === null) return undefined;
      if (typeof result === 'number' || typeof result === 'string' || typeof result === 'boolean') {
        return Buffer.from(result.toString());
      }
      return Buffer.from(JSON.stringify(toPlain(result)));
    }
    fromBuffer(data) {
      if (!data) throw new Error('Buffer needs to be supplied');
      const stringData = data.toString('utf8');
      try {
        const value = JSON.parse(stringData);
        if (value && value.type === 'Buffer') return { value: Buffer.from(value.data), jsonForValidation: value };
        return { value, jsonForValidation: value };
      } catch (err) {
        return { value: stringData, jsonForValidation: JSON.stringify(stringData) };
      }
    }
  }

  // class-transformer's classToPlain, as far as it changes JSON output:
  // Maps become objects and Sets arrays.
  function toPlain(value, seen = new Set()) {
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value)) return undefined;
    if (value instanceof Map) {
      const out = {};
      for (const [k, v] of value) out[k] = toPlain(v, seen);
      return out;
    }
    if (value instanceof Set) return Array.from(value, (v) => toPlain(v, seen));
    if (value instanceof Date || value instanceof Uint8Array || typeof value.toJSON === 'function') return value;
    seen.add(value);
    try {
      if (Array.isArray(value)) return value.map((v) => toPlain(v, seen));
      const out = {};
      for (const k of Object.keys(value)) out[k] = toPlain(value[k], seen);
      return out;
    } finally {
      seen.delete(value);
    }
  }

  internal.Contract = Contract;
  internal.Context = Context;
  internal.JSONSerializer = JSONSerializer;
  internal.contractApiModule = {
    Contract, Context, JSONSerializer,
    Transaction, Returns, Param, Default, Info, Property, Object: ObjectDecorator,
  };
  internal.ownPrototypes = (internal.ownPrototypes || []).concat([Contract.prototype, Context.prototype, JSONSerializer.prototype]);
})
