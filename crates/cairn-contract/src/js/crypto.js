// A deterministic subset of Node's `crypto` module: createHash('sha256')
// (update with strings or bytes, digest as a Buffer or in hex/base64/latin1),
// which Fabric's private data samples use to compare a value with
// getPrivateDataHash. Everything that needs entropy or keys is absent.
(function (host, internal) {
  'use strict';
  const { Buffer, bin } = internal;

  class Hash {
    constructor(algorithm) {
      const name = String(algorithm).toLowerCase().replace('-', '');
      if (name !== 'sha256') {
        const err = new Error(`Digest method not supported: Cairn contracts have crypto.createHash('sha256') only (asked for ${algorithm})`);
        err.code = 'ERR_CRYPTO_INVALID_DIGEST';
        throw err;
      }
      this._chunks = [];
      this._done = false;
    }
    update(data, encoding) {
      if (this._done) throw new Error('Digest already called');
      if (typeof data === 'string') this._chunks.push(Buffer.from(data, encoding || 'utf8'));
      else if (data instanceof Uint8Array) this._chunks.push(Buffer.from(data));
      else if (ArrayBuffer.isView(data)) this._chunks.push(Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
      else throw new TypeError('The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView');
      return this;
    }
    digest(encoding) {
      if (this._done) throw new Error('Digest already called');
      this._done = true;
      const out = Buffer.from(host.sha256(bin(Buffer.concat(this._chunks))));
      return encoding === undefined || encoding === 'buffer' ? out : out.toString(encoding);
    }
  }

  internal.cryptoModule = {
    createHash: (algorithm) => new Hash(algorithm),
    getHashes: () => ['sha256'],
  };
  internal.ownPrototypes = (internal.ownPrototypes || []).concat([Hash.prototype]);
})
