/*
 * Model registry: which ONNX models a channel's orgs have registered, so that
 * an inference service can refuse a model whose hash is not registered and a
 * client can require a registered model (Cairn issue 12, item 3).
 *
 * Written against fabric-contract-api; it runs unmodified on Fabric.
 *
 * State (composite keys, each object type a separate key space):
 *   model~<name>~<version>  the record (canonical JSON, see below)
 *   modelOwner~<name>       {"name","owner"}: the MSP that registered the name first
 *   modelHash~<sha256>      {"name","version"}: the one record holding that hash
 *
 * Record: {"name","owner","registeredAt","revoked","sha256","signature","txid","version"}
 * plus, once revoked, "revocation": {"reason","revokedAt","txid"};
 * keys sorted, no white space.
 *
 * Invariants:
 * - a name's owner is the MSP of the client whose transaction registered its
 *   first version; only clients of that MSP register or revoke its versions;
 * - a (name, version) record, once written, keeps its name, version, sha256,
 *   signature, owner, txid and registeredAt forever; revocation only adds
 *   "revoked": true and "revocation"; nothing is ever deleted;
 * - every sha256 maps to exactly one (name, version), revoked or not;
 * - every value written depends only on the proposal and the state read
 *   (time is the transaction's timestamp), so every endorser writes the same bytes;
 * - a refused call throws before its first write, so it writes nothing.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const { Contract } = require('fabric-contract-api');
const { canonicalJson } = require('./canonical');
const {
    checkName, checkReason, checkSha256, checkVersion, parseSignature,
} = require('./validate');

const RECORD = 'model';
const OWNER = 'modelOwner';
const HASH = 'modelHash';

class ModelRegistry extends Contract {

    // RegisterModel records a model version; the first registration of a name makes the caller's org its owner.
    async RegisterModel(ctx, name, version, sha256, signatureJson) {
        this._arity(ctx, 'RegisterModel', ['name', 'version', 'sha256', 'signatureJson']);
        checkName(name);
        checkVersion(version);
        checkSha256(sha256);
        const signature = parseSignature(signatureJson);
        const caller = ctx.clientIdentity.getMSPID();

        const owner = await this._readJson(ctx, this._ownerKey(ctx, name));
        if (owner) {
            this._checkOwner(owner.owner, caller, name, 'register');
        }
        const existing = await this._readJson(ctx, this._recordKey(ctx, name, version));
        if (existing) {
            throw new Error(`model ${name} version ${version} is already registered (sha256 ${existing.sha256}, transaction ${existing.txid}); a registered version never changes: register the new file under a new version`);
        }
        const holder = await this._readJson(ctx, this._hashKey(ctx, sha256));
        if (holder) {
            throw new Error(`a model with sha256 ${sha256} is already registered as ${holder.name} version ${holder.version}; one model file is registered only once`);
        }

        const record = {
            name,
            owner: owner ? owner.owner : caller,
            registeredAt: ctx.stub.getDateTimestamp().toISOString(),
            revoked: false,
            sha256,
            signature,
            txid: ctx.stub.getTxID(),
            version,
        };
        const text = canonicalJson(record);
        if (!owner) {
            await this._write(ctx, this._ownerKey(ctx, name), canonicalJson({ name, owner: caller }));
        }
        await this._write(ctx, this._recordKey(ctx, name, version), text);
        await this._write(ctx, this._hashKey(ctx, sha256), canonicalJson({ name, version }));
        ctx.stub.setEvent('ModelRegistered', Buffer.from(text));
        return text;
    }

    // GetModel returns the record of one model version.
    async GetModel(ctx, name, version) {
        this._arity(ctx, 'GetModel', ['name', 'version']);
        checkName(name);
        checkVersion(version);
        const data = await ctx.stub.getState(this._recordKey(ctx, name, version));
        if (!data || data.length === 0) {
            throw new Error(`model ${name} version ${version} is not registered`);
        }
        return data.toString('utf8');
    }

    // FindByHash returns the record of the model version whose file has this SHA-256.
    async FindByHash(ctx, sha256) {
        this._arity(ctx, 'FindByHash', ['sha256']);
        checkSha256(sha256);
        const holder = await this._readJson(ctx, this._hashKey(ctx, sha256));
        if (!holder) {
            throw new Error(`no model with sha256 ${sha256} is registered`);
        }
        const data = await ctx.stub.getState(this._recordKey(ctx, holder.name, holder.version));
        if (!data || data.length === 0) {
            // The two keys are written in one transaction and never deleted.
            throw new Error(`internal error: the hash index names model ${holder.name} version ${holder.version}, which has no record`);
        }
        return data.toString('utf8');
    }

    // ListVersions returns every record of a name, ordered by version string (bytewise); [] for an unknown name.
    async ListVersions(ctx, name) {
        this._arity(ctx, 'ListVersions', ['name']);
        checkName(name);
        const records = [];
        const iterator = await ctx.stub.getStateByPartialCompositeKey(RECORD, [name]);
        for (let res = await iterator.next(); !res.done; res = await iterator.next()) {
            records.push(JSON.parse(res.value.value.toString('utf8')));
        }
        await iterator.close();
        return canonicalJson(records);
    }

    // RevokeModel marks a model version revoked, with a reason; only its owner org may, and only once.
    async RevokeModel(ctx, name, version, reason) {
        this._arity(ctx, 'RevokeModel', ['name', 'version', 'reason']);
        checkName(name);
        checkVersion(version);
        checkReason(reason);
        const record = await this._readJson(ctx, this._recordKey(ctx, name, version));
        if (!record) {
            throw new Error(`model ${name} version ${version} is not registered`);
        }
        this._checkOwner(record.owner, ctx.clientIdentity.getMSPID(), name, 'revoke');
        if (record.revoked) {
            throw new Error(`model ${name} version ${version} is already revoked (at ${record.revocation.revokedAt}: ${record.revocation.reason})`);
        }
        record.revoked = true;
        record.revocation = {
            reason,
            revokedAt: ctx.stub.getDateTimestamp().toISOString(),
            txid: ctx.stub.getTxID(),
        };
        const text = canonicalJson(record);
        await this._write(ctx, this._recordKey(ctx, name, version), text);
        ctx.stub.setEvent('ModelRevoked', Buffer.from(text));
        return text;
    }

    // Fabric passes missing arguments as undefined and drops extra ones;
    // a call with the wrong count is refused instead, naming the parameters.
    _arity(ctx, fn, names) {
        const { params } = ctx.stub.getFunctionAndParameters();
        if (params.length !== names.length) {
            throw new Error(`${fn} takes ${names.length} argument${names.length === 1 ? '' : 's'} (${names.join(', ')}); got ${params.length}`);
        }
    }

    _checkOwner(owner, caller, name, action) {
        if (owner !== caller) {
            throw new Error(`model ${name} belongs to ${owner}; only clients of ${owner} may ${action} its versions (this client is of ${caller})`);
        }
    }

    _recordKey(ctx, name, version) {
        return ctx.stub.createCompositeKey(RECORD, [name, version]);
    }

    _ownerKey(ctx, name) {
        return ctx.stub.createCompositeKey(OWNER, [name]);
    }

    _hashKey(ctx, sha256) {
        return ctx.stub.createCompositeKey(HASH, [sha256]);
    }

    async _readJson(ctx, key) {
        const data = await ctx.stub.getState(key);
        if (!data || data.length === 0) {
            return null;
        }
        return JSON.parse(data.toString('utf8'));
    }

    async _write(ctx, key, text) {
        await ctx.stub.putState(key, Buffer.from(text));
    }
}

module.exports = ModelRegistry;
