/*
 * Blob anchors: what an immutable blob store (`cairn blob serve --anchor`)
 * records on a channel, so that anyone can later check a blob's bytes and
 * its policy history against the ledger, with a receipt (Cairn issue 15).
 *
 * Written against fabric-contract-api; it runs unmodified on Fabric.
 *
 * State (composite keys):
 *   blobVersion~<store>~<bucket>~<key>~<versionId>
 *       {"bucket","deleteMarker","key","recordedAt","recordedBy","sha256","size","store","txid","versionId"}
 *   blobPolicy~<store>~<bucket>~<key>~<versionId>~<index>
 *       {"at","by","change","index","recordedAt","recordedBy","txid"}   (a version's policy change)
 *   blobBucketPolicy~<store>~<bucket>~<index>
 *       {"at","by","change","index","recordedAt","recordedBy","txid"}   (a bucket's policy change)
 * <index> is the change's position in the store's history, zero-padded to
 * 6 digits so that keys sort in order. Records are canonical JSON.
 *
 * Invariants:
 * - a record, once written, never changes and is never deleted: recording
 *   the same thing again returns the first record (with its txid), recording
 *   something different under the same key is refused;
 * - every value written depends only on the proposal and the state read
 *   (time is the transaction's timestamp), so every endorser writes the same bytes;
 * - a refused call throws before its first write.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const { Contract } = require('fabric-contract-api');
const { canonicalJson } = require('./canonical');

const VERSION = 'blobVersion';
const POLICY = 'blobPolicy';
const BUCKET_POLICY = 'blobBucketPolicy';

function check(name, value, pattern, what) {
    if (typeof value !== 'string' || !pattern.test(value)) {
        const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value;
        throw new Error(`${name} ${shown} is not ${what}`);
    }
    return value;
}

const checkStore = (v) => check('store', v, /^[0-9a-f]{16}$/, 'a store id (16 hex digits)');
const checkBucket = (v) => check('bucket', v, /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'a bucket name (3 to 63 of a-z 0-9 . -)');
const checkVersionId = (v) => check('versionId', v, /^[0-9a-f]{16}$/, 'a version id (16 hex digits)');
const checkIndex = (v) => Number(check('index', v, /^[0-9]{1,6}$/, 'a history index (decimal)'));

function checkKey(key) {
    if (typeof key !== 'string' || key.length === 0 || Buffer.from(key, 'utf8').length > 1024) {
        throw new Error('key must be 1 to 1024 bytes of UTF-8');
    }
    return key;
}

function checkText(name, value, max) {
    if (typeof value !== 'string' || value.length === 0 || value.length > max) {
        throw new Error(`${name} must be 1 to ${max} characters`);
    }
    return value;
}

class BlobAnchor extends Contract {

    // RecordVersion anchors one object version: its SHA-256 and size (a delete marker has neither).
    async RecordVersion(ctx, store, bucket, key, versionId, sha256, size, deleteMarker) {
        this._arity(ctx, 'RecordVersion', ['store', 'bucket', 'key', 'versionId', 'sha256', 'size', 'deleteMarker']);
        checkStore(store);
        checkBucket(bucket);
        checkKey(key);
        checkVersionId(versionId);
        const marker = check('deleteMarker', deleteMarker, /^(true|false)$/, 'true or false') === 'true';
        if (marker) {
            if (sha256 !== '' || size !== '0') {
                throw new Error('a delete marker has no content: give sha256 "" and size 0');
            }
        } else {
            check('sha256', sha256, /^[0-9a-f]{64}$/, 'a SHA-256 (64 lowercase hex digits)');
            check('size', size, /^(0|[1-9][0-9]{0,15})$/, 'a size in bytes (decimal)');
        }
        const fields = { bucket, deleteMarker: marker, key, sha256, size: Number(size), store, versionId };
        return this._record(ctx, ctx.stub.createCompositeKey(VERSION, [store, bucket, key, versionId]), fields,
            `version ${versionId} of ${bucket}/${key}`, 'BlobVersionRecorded');
    }

    // RecordPolicy anchors one change of a version's retention, legal hold or existence.
    async RecordPolicy(ctx, store, bucket, key, versionId, index, at, by, change) {
        this._arity(ctx, 'RecordPolicy', ['store', 'bucket', 'key', 'versionId', 'index', 'at', 'by', 'change']);
        checkStore(store);
        checkBucket(bucket);
        checkKey(key);
        checkVersionId(versionId);
        const i = checkIndex(index);
        const fields = this._event(i, at, by, change);
        const k = ctx.stub.createCompositeKey(POLICY, [store, bucket, key, versionId, String(i).padStart(6, '0')]);
        return this._record(ctx, k, fields, `policy change ${i} of ${bucket}/${key} version ${versionId}`, 'BlobPolicyRecorded');
    }

    // RecordBucketPolicy anchors one change of a bucket's object lock, default retention, container policy or holds.
    async RecordBucketPolicy(ctx, store, bucket, index, at, by, change) {
        this._arity(ctx, 'RecordBucketPolicy', ['store', 'bucket', 'index', 'at', 'by', 'change']);
        checkStore(store);
        checkBucket(bucket);
        const i = checkIndex(index);
        const fields = this._event(i, at, by, change);
        const k = ctx.stub.createCompositeKey(BUCKET_POLICY, [store, bucket, String(i).padStart(6, '0')]);
        return this._record(ctx, k, fields, `policy change ${i} of bucket ${bucket}`, 'BlobBucketPolicyRecorded');
    }

    // GetVersion returns a version's anchor and its anchored policy changes, in order.
    async GetVersion(ctx, store, bucket, key, versionId) {
        this._arity(ctx, 'GetVersion', ['store', 'bucket', 'key', 'versionId']);
        checkStore(store);
        checkBucket(bucket);
        checkKey(key);
        checkVersionId(versionId);
        const data = await ctx.stub.getState(ctx.stub.createCompositeKey(VERSION, [store, bucket, key, versionId]));
        if (!data || data.length === 0) {
            throw new Error(`version ${versionId} of ${bucket}/${key} is not anchored on this channel`);
        }
        const policy = await this._list(ctx, POLICY, [store, bucket, key, versionId]);
        return canonicalJson({ policy, version: JSON.parse(data.toString('utf8')) });
    }

    // GetBucketPolicy returns a bucket's anchored policy changes, in order.
    async GetBucketPolicy(ctx, store, bucket) {
        this._arity(ctx, 'GetBucketPolicy', ['store', 'bucket']);
        checkStore(store);
        checkBucket(bucket);
        return canonicalJson(await this._list(ctx, BUCKET_POLICY, [store, bucket]));
    }

    _event(index, at, by, change) {
        check('at', at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/, 'an RFC 3339 UTC time');
        return { at, by: checkText('by', by, 200), change: checkText('change', change, 512), index };
    }

    // Writes `fields` plus who and when under `key`, unless the same fields are there already.
    async _record(ctx, key, fields, what, event) {
        const data = await ctx.stub.getState(key);
        if (data && data.length > 0) {
            const existing = JSON.parse(data.toString('utf8'));
            const same = Object.keys(fields).every((f) => canonicalJson(existing[f]) === canonicalJson(fields[f]));
            if (!same) {
                throw new Error(`${what} is already anchored differently (transaction ${existing.txid}); an anchor never changes`);
            }
            return data.toString('utf8');
        }
        const record = {
            ...fields,
            recordedAt: ctx.stub.getDateTimestamp().toISOString(),
            recordedBy: ctx.clientIdentity.getMSPID(),
            txid: ctx.stub.getTxID(),
        };
        const text = canonicalJson(record);
        await ctx.stub.putState(key, Buffer.from(text));
        ctx.stub.setEvent(event, Buffer.from(text));
        return text;
    }

    async _list(ctx, type, attributes) {
        const out = [];
        const iterator = await ctx.stub.getStateByPartialCompositeKey(type, attributes);
        try {
            for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
                out.push(JSON.parse(r.value.value.toString('utf8')));
            }
        } finally {
            await iterator.close();
        }
        return out;
    }

    // Fabric passes missing arguments as undefined and drops extra ones;
    // a call with the wrong count is refused instead, naming the parameters.
    _arity(ctx, fn, names) {
        const { params } = ctx.stub.getFunctionAndParameters();
        if (params.length !== names.length) {
            throw new Error(`${fn} takes ${names.length} argument${names.length === 1 ? '' : 's'} (${names.join(', ')}); got ${params.length}`);
        }
    }
}

module.exports = BlobAnchor;
