// fabric-shim 2.x: ChaincodeStub (ctx.stub), ClientIdentity
// (ctx.clientIdentity), query iterators, KeyEndorsementPolicy and the Shim
// class with start/success/error. Stub calls go to the Rust simulator
// (host.*), which records the read/write set; they resolve immediately
// because state reads are local.
(function (host, internal) {
  'use strict';
  const { Buffer, toBuffer } = internal;
  const COMPOSITEKEY_NS = '\x00';
  const MIN_UNICODE_RUNE_VALUE = '\u0000';
  const MAX_UNICODE_RUNE_VALUE = '\u{10ffff}';
  const EMPTY_KEY_SUBSTITUTE = '\x01';
  const RESPONSE_CODE = { OK: 200, ERRORTHRESHOLD: 400, ERROR: 500 };
  const VALIDATION_PARAMETER = 'VALIDATION_PARAMETER';

  const { bin } = internal;
  // Values go to Rust as binary strings (see buffer.js); JavaScript strings
  // are UTF-8 encoded first, as fabric-shim does with Buffer.from(string).
  function bytesOf(value, what) {
    if (typeof value === 'string') return bin(host.utf8Encode(value));
    if (value instanceof Uint8Array) return bin(value);
    if (value instanceof ArrayBuffer) return bin(new Uint8Array(value));
    if (ArrayBuffer.isView(value)) return bin(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    if (value === undefined || value === null) throw new Error(`${what} must be a string or a Buffer, got ${value}`);
    return bin(Buffer.from(value));
  }
  const bufferOrEmpty = (u8) => (u8 === undefined ? Buffer.alloc(0) : toBuffer(u8));

  // A 64-bit integer the way protobufjs's Long presents one.
  class Long {
    constructor(low, high, unsigned) { this.low = low | 0; this.high = high | 0; this.unsigned = Boolean(unsigned); }
    static fromNumber(n, unsigned) {
      return new Long(n % 4294967296 | 0, Math.floor(n / 4294967296) | 0, unsigned);
    }
    toNumber() { return this.high * 4294967296 + (this.low >>> 0); }
    toInt() { return this.low; }
    toString(radix) { return this.toNumber().toString(radix); }
    valueOf() { return this.toNumber(); }
    toJSON() { return this.toNumber(); }
  }

  class StateQueryIterator {
    constructor(id) { this._id = id; this._done = false; }
    async next() {
      if (this._done) return { done: true };
      const row = host.next(this._id);
      if (row === undefined) {
        this._done = true;
        return { done: true };
      }
      return { value: { key: row[0], value: toBuffer(row[1]) }, done: false };
    }
    async close() { host.close(this._id); }
  }

  // Rows already read from the simulator (private range queries).
  class RowsIterator {
    constructor(rows) { this._rows = rows; this._pos = 0; }
    async next() {
      if (this._pos >= this._rows.length) return { done: true };
      const [key, value] = this._rows[this._pos++];
      return { value: { key, value: toBuffer(value) }, done: false };
    }
    async close() { this._pos = this._rows.length; }
  }

  class HistoryQueryIterator {
    constructor(rows) { this._rows = rows; this._pos = 0; }
    async next() {
      if (this._pos >= this._rows.length) return { done: true };
      const [txId, seconds, nanos, isDelete, value] = this._rows[this._pos++];
      return { value: { txId, value: toBuffer(value), isDelete, timestamp: { seconds, nanos } }, done: false };
    }
    async close() { this._pos = this._rows.length; }
  }

  // fabric-shim's trick: the promise of an iterator is also async-iterable,
  // so both `await stub.getStateByRange()` and `for await (... of stub.getStateByRange())` work.
  function convertToAsyncIterator(promise) {
    promise[Symbol.asyncIterator] = () => {
      let iterator;
      return {
        next: async () => {
          if (!iterator) {
            const response = await promise;
            iterator = response.iterator ? response.iterator : response;
          }
          const nextVal = await iterator.next();
          if (nextVal.done) await iterator.close();
          return nextVal;
        },
        return: async () => {
          if (iterator) await iterator.close();
          return { done: true };
        },
      };
    };
    return promise;
  }
  const iteratorOf = (fn) => convertToAsyncIterator(new Promise((resolve) => resolve(fn())));

  function validateCompositeKeyAttribute(attr) {
    if (!attr || typeof attr !== 'string' || attr.length === 0) {
      throw new Error('object type or attribute not a non-zero length string');
    }
  }
  function validateSimpleKeys(...keys) {
    keys.forEach((key) => {
      if (key && typeof key === 'string' && key.charAt(0) === COMPOSITEKEY_NS) {
        throw new Error(`first character of the key [${key}] contains a null character which is not allowed`);
      }
    });
  }
  function checkCollection(collection) {
    if (!collection || typeof collection !== 'string') throw new Error('collection must be a valid string');
  }
  function checkKey(key) {
    if (!key || typeof key !== 'string') throw new Error('key must be a valid string');
  }
  function pageOf(start, end, pageSize, bookmark) {
    const [id, fetched, next] = host.openPage(start, end || '', Number(pageSize) | 0, bookmark || '');
    return { iterator: new StateQueryIterator(id), metadata: { fetchedRecordsCount: fetched, fetched_records_count: fetched, bookmark: next } };
  }

  class ChaincodeStub {
    constructor(tx) {
      this.txId = tx.txid;
      this.channel_id = tx.channel;
      // The arrays are this invocation's own (made by Rust for it), so
      // they become the stub's without a copy; Rust decoded the strings
      // as Buffer#toString would (invalid UTF-8 replaced by U+FFFD).
      this.bufferArgs = tx.args.map(toBuffer);
      this.args = tx.argStrings;
      this.creator = { mspid: tx.creatorMsp, idBytes: toBuffer(tx.creatorPemBytes) };
      this.transientMap = new Map(tx.transient.map(([k, v]) => [k, toBuffer(v)]));
      this.txTimestamp = { seconds: tx.seconds, nanos: tx.nanos };
      this.binding = tx.binding;
      this.validationParameterMetakey = VALIDATION_PARAMETER;
      this._peerMsp = tx.peerMsp;
      this._signedProposal = {
        signature: Buffer.alloc(0),
        proposal: { header: { signatureHeader: { nonce: toBuffer(tx.nonce), creator: this.creator } } },
      };
    }
    getArgs() { return this.args; }
    getStringArgs() { return this.args; }
    getBufferArgs() { return this.bufferArgs; }
    getFunctionAndParameters() {
      const values = this.getStringArgs();
      return values.length >= 1 ? { fcn: values[0], params: values.slice(1) } : { fcn: '', params: [] };
    }
    getTxID() { return this.txId; }
    getChannelID() { return this.channel_id; }
    getCreator() { return this.creator; }
    getMspID() { return this._peerMsp; }
    getTransient() { return this.transientMap; }
    getSignedProposal() { return this._signedProposal; }
    getTxTimestamp() { return { nanos: this.txTimestamp.nanos, seconds: Long.fromNumber(this.txTimestamp.seconds, true) }; }
    getDateTimestamp() { return new Date(this.txTimestamp.seconds * 1000 + Math.round(this.txTimestamp.nanos / 1e6)); }
    getBinding() { return this.binding; }

    async getState(key) { return bufferOrEmpty(host.getState(key)); }
    async putState(key, value) { host.putState(key, bytesOf(value, 'value')); }
    async deleteState(key) { host.deleteState(key); }
    async setStateValidationParameter(key, ep) { host.setValidationParameter(key, bytesOf(ep, 'endorsement policy')); }
    async getStateValidationParameter(key) {
      const ep = host.getValidationParameter(key);
      return ep === undefined ? undefined : toBuffer(ep);
    }
    getStateByRange(startKey, endKey) {
      if (!startKey) startKey = EMPTY_KEY_SUBSTITUTE;
      try { validateSimpleKeys(startKey, endKey); } catch (err) { return convertToAsyncIterator(Promise.reject(err)); }
      return iteratorOf(() => new StateQueryIterator(host.openRange(startKey, endKey || '')));
    }
    getStateByRangeWithPagination(startKey, endKey, pageSize, bookmark) {
      if (!startKey) startKey = EMPTY_KEY_SUBSTITUTE;
      try { validateSimpleKeys(startKey, endKey); } catch (err) { return convertToAsyncIterator(Promise.reject(err)); }
      return iteratorOf(() => pageOf(startKey, endKey, pageSize, bookmark));
    }
    getQueryResult() {
      return convertToAsyncIterator(Promise.reject(new Error(
        'rich queries (getQueryResult) need a CouchDB state database, which Cairn does not have: use key ranges and composite keys')));
    }
    getQueryResultWithPagination() { return this.getQueryResult(); }
    getHistoryForKey(key) { return iteratorOf(() => new HistoryQueryIterator(host.history(key))); }
    async invokeChaincode(chaincodeName, args, channel) {
      const [status, message, payload] = host.invokeChaincode(String(chaincodeName), (args || []).map((a) => bytesOf(a, 'argument')), channel || '');
      return { status, message, payload: toBuffer(payload) };
    }
    setEvent(name, payload) {
      if (typeof name !== 'string' || name === '') throw new Error('Event name must be a non-empty string');
      host.setEvent(name, payload === undefined || payload === null ? '' : bytesOf(payload, 'payload'));
    }
    createCompositeKey(objectType, attributes) {
      validateCompositeKeyAttribute(objectType);
      if (!Array.isArray(attributes)) throw new Error('attributes must be an array');
      let compositeKey = COMPOSITEKEY_NS + objectType + MIN_UNICODE_RUNE_VALUE;
      attributes.forEach((attribute) => {
        validateCompositeKeyAttribute(attribute);
        compositeKey = compositeKey + attribute + MIN_UNICODE_RUNE_VALUE;
      });
      return compositeKey;
    }
    splitCompositeKey(compositeKey) {
      const result = { objectType: null, attributes: [] };
      if (compositeKey && compositeKey.length > 1 && compositeKey.charAt(0) === COMPOSITEKEY_NS) {
        const splitKey = compositeKey.substring(1).split(MIN_UNICODE_RUNE_VALUE);
        result.objectType = splitKey[0];
        splitKey.pop();
        if (splitKey.length > 1) {
          splitKey.shift();
          result.attributes = splitKey;
        }
      }
      return result;
    }
    getStateByPartialCompositeKey(objectType, attributes) {
      let partial;
      try { partial = this.createCompositeKey(objectType, attributes); } catch (err) { return convertToAsyncIterator(Promise.reject(err)); }
      return iteratorOf(() => new StateQueryIterator(host.openRange(partial, partial + MAX_UNICODE_RUNE_VALUE)));
    }
    getStateByPartialCompositeKeyWithPagination(objectType, attributes, pageSize, bookmark) {
      let partial;
      try { partial = this.createCompositeKey(objectType, attributes); } catch (err) { return convertToAsyncIterator(Promise.reject(err)); }
      return iteratorOf(() => pageOf(partial, partial + MAX_UNICODE_RUNE_VALUE, pageSize, bookmark));
    }

    // Private data (collections): values come back as Buffers (empty when
    // absent), as in fabric-shim. Access rules are enforced by the peer.
    async getPrivateData(collection, key) {
      checkCollection(collection); checkKey(key);
      return bufferOrEmpty(host.getPrivateData(collection, key));
    }
    async getPrivateDataHash(collection, key) {
      checkCollection(collection); checkKey(key);
      return bufferOrEmpty(host.getPrivateDataHash(collection, key));
    }
    async putPrivateData(collection, key, value) {
      checkCollection(collection); checkKey(key);
      if (!value) throw new Error('value must be valid');
      host.putPrivateData(collection, key, bytesOf(value, 'value'));
    }
    async deletePrivateData(collection, key) { checkCollection(collection); checkKey(key); host.deletePrivateData(collection, key); }
    async purgePrivateData(collection, key) { checkCollection(collection); checkKey(key); host.purgePrivateData(collection, key); }
    async setPrivateDataValidationParameter() {
      throw new Error('setPrivateDataValidationParameter is not supported: key-level endorsement policies on private data are not available in Cairn; use a collection endorsementPolicy');
    }
    async getPrivateDataValidationParameter() {
      throw new Error('getPrivateDataValidationParameter is not supported: key-level endorsement policies on private data are not available in Cairn; use a collection endorsementPolicy');
    }
    getPrivateDataByRange(collection, startKey, endKey) {
      return iteratorOf(() => {
        checkCollection(collection);
        if (!startKey) startKey = EMPTY_KEY_SUBSTITUTE;
        validateSimpleKeys(startKey, endKey);
        return new RowsIterator(host.privateRange(collection, startKey, endKey || ''));
      });
    }
    getPrivateDataByPartialCompositeKey(collection, objectType, attributes) {
      return iteratorOf(() => {
        checkCollection(collection);
        const partial = this.createCompositeKey(objectType, attributes);
        return new RowsIterator(host.privateRange(collection, partial, partial + MAX_UNICODE_RUNE_VALUE));
      });
    }
    getPrivateDataQueryResult() {
      return convertToAsyncIterator(Promise.reject(new Error(
        'rich queries (getPrivateDataQueryResult) need a CouchDB state database, which Cairn does not have: use key ranges and composite keys')));
    }
  }
  ChaincodeStub.RESPONSE_CODE = RESPONSE_CODE;

  class ClientIdentity {
    constructor(stub) {
      const tx = internal.current.tx;
      this.stub = stub;
      this.mspId = tx.creatorMsp;
      this.idBytes = Buffer.from(tx.creatorPemBytes);
      this.id = tx.creatorId;
      this.attrs = Object.assign({}, tx.creatorAttrs);
    }
    getID() { return this.id; }
    getMSPID() { return this.mspId; }
    getIDBytes() { return this.idBytes; }
    getAttributeValue(attrName) {
      const attr = this.attrs[attrName];
      return attr ? attr : null;
    }
    assertAttributeValue(attrName, attrValue) {
      const attr = this.getAttributeValue(attrName);
      return attr !== null && attrValue === attr;
    }
  }

  // State-based endorsement policies, carried as Cairn policy text
  // (`AND('Org1MSP.peer', 'Org2MSP.member')`) instead of Fabric's protobuf.
  class KeyEndorsementPolicy {
    constructor(policy) {
      this.orgs = {};
      if (policy) {
        const text = Buffer.from(policy).toString();
        for (const m of text.matchAll(/'([^'.]+)\.(member|peer)'/g)) this.orgs[m[1]] = m[2].toUpperCase();
      }
    }
    getPolicy() {
      const ids = this.listOrgs();
      return Buffer.from(ids.length ? `AND(${ids.map((id) => `'${id}.${this.orgs[id].toLowerCase()}'`).join(', ')})` : '');
    }
    addOrgs(role, ...neworgs) {
      if (role !== 'MEMBER' && role !== 'PEER') throw new Error(`role type ${role} does not exist`);
      neworgs.forEach((o) => { this.orgs[o] = role; });
    }
    delOrgs(...delorgs) { delorgs.forEach((o) => { delete this.orgs[o]; }); }
    listOrgs() { return Object.keys(this.orgs); }
  }

  class ChaincodeInterface {
    async Init() { throw new Error('Init not implemented'); }
    async Invoke() { throw new Error('Invoke not implemented'); }
  }

  const loggerFor = (name) => {
    const log = (level) => (...args) => host.log(level, `[${name}] ${internal.format(...args)}`);
    return { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug'), verbose: log('debug'), silly: log('debug'), log: log('log') };
  };

  class Shim {
    // Registers a low-level chaincode (Init/Invoke) for this invocation.
    static start(chaincode) {
      if (!chaincode || typeof chaincode.Invoke !== 'function' || typeof chaincode.Init !== 'function') {
        throw new Error('shim.start requires an object with Init and Invoke methods');
      }
      internal.current.chaincode = chaincode;
    }
    static success(payload) { return { status: RESPONSE_CODE.OK, payload: payload ? payload : Buffer.from('') }; }
    static error(msg) { return { status: RESPONSE_CODE.ERROR, message: msg }; }
    static newLogger(name) { return loggerFor(name || 'shim'); }
    static server() { throw new Error('chaincode-as-a-service servers do not exist in Cairn: contracts run inside the peer'); }
  }

  const Iterators = { StateQueryIterator, HistoryQueryIterator };
  const shimModule = Shim;
  Object.assign(shimModule, {
    Shim, ClientIdentity, Stub: ChaincodeStub, ChaincodeStub, Iterators,
    HistoryQueryIterator, StateQueryIterator, ChaincodeInterface, KeyEndorsementPolicy,
  });
  internal.shimModule = shimModule;
  internal.ChaincodeStub = ChaincodeStub;
  internal.ClientIdentity = ClientIdentity;
  internal.loggerFor = loggerFor;
  internal.ownPrototypes = (internal.ownPrototypes || []).concat([
    ChaincodeStub.prototype, ClientIdentity.prototype, StateQueryIterator.prototype,
    HistoryQueryIterator.prototype, RowsIterator.prototype, KeyEndorsementPolicy.prototype, ChaincodeInterface.prototype, Long.prototype,
  ]);
})
