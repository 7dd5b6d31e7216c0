/*
 * Digest anchor: database digests of Cairn ledger tables (`cairn sql digest`),
 * recorded on a channel so that each has a receipt anyone can check offline, and
 * so that a database administrator cannot quietly replace the digests a
 * verification trusts (Cairn issue 14, item 4).
 *
 * Written against fabric-contract-api; it runs unmodified on Fabric.
 *
 * State: digest~<database_name>~<block_id as 20 digits> -> the record
 * Record: {"block_id","database_name","digest_time","hash",
 *          "last_transaction_commit_time","recorded_by","txid"}
 * (canonical JSON: keys sorted, no white space).
 *
 * Invariants:
 * - one record per (database, block), written once and never changed: a second
 *   digest for the same block with another hash is refused, naming both hashes
 *   (the database was restored or rewritten: a fork); the same digest again
 *   answers the existing record and writes nothing;
 * - every value written depends only on the proposal and the state read, so
 *   every endorser writes the same bytes;
 * - a refused call throws before its first write.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const { Contract } = require('fabric-contract-api');
const { canonicalJson } = require('./canonical');

const DIGEST = 'digest';
const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const HASH = /^0x[0-9A-F]{64}$/;
const TIME = /^[0-9T:.Z+-]{1,40}$/;

function parseDigest(text) {
    let d;
    try {
        d = JSON.parse(text);
    } catch (e) {
        throw new Error(`the digest is not JSON (${e.message}); pass the output of cairn sql digest`);
    }
    if (d === null || typeof d !== 'object' || Array.isArray(d)) {
        throw new Error('the digest must be a JSON object with database_name, block_id, hash, last_transaction_commit_time, digest_time');
    }
    if (typeof d.database_name !== 'string' || !NAME.test(d.database_name)) {
        throw new Error('database_name must be 1 to 128 letters, digits, _ . or -');
    }
    if (!Number.isSafeInteger(d.block_id) || d.block_id < 0) {
        throw new Error('block_id must be a non-negative integer');
    }
    if (typeof d.hash !== 'string' || !HASH.test(d.hash)) {
        throw new Error('hash must be 0x followed by 64 upper-case hex digits');
    }
    for (const field of ['last_transaction_commit_time', 'digest_time']) {
        if (typeof d[field] !== 'string' || !(d[field] === '' || TIME.test(d[field]))) {
            throw new Error(`${field} must be an ISO 8601 time`);
        }
    }
    return d;
}

class DigestAnchor extends Contract {

    // RecordDigest anchors one database digest; the same digest twice is a no-op, another hash for the block is refused.
    async RecordDigest(ctx, digestJson) {
        const { params } = ctx.stub.getFunctionAndParameters();
        if (params.length !== 1) {
            throw new Error(`RecordDigest takes one argument (the digest JSON); got ${params.length}`);
        }
        const d = parseDigest(digestJson);
        const key = ctx.stub.createCompositeKey(DIGEST, [d.database_name, String(d.block_id).padStart(20, '0')]);
        const existing = await ctx.stub.getState(key);
        if (existing && existing.length > 0) {
            const old = JSON.parse(existing.toString('utf8'));
            if (old.hash === d.hash) {
                return existing.toString('utf8');
            }
            throw new Error(`database ${d.database_name} block ${d.block_id} was anchored with hash ${old.hash} (transaction ${old.txid}); this digest says ${d.hash}: the database forked (restored or rewritten) — verify it against the anchored digests`);
        }
        const record = canonicalJson({
            block_id: d.block_id,
            database_name: d.database_name,
            digest_time: d.digest_time,
            hash: d.hash,
            last_transaction_commit_time: d.last_transaction_commit_time,
            recorded_by: ctx.clientIdentity.getMSPID(),
            txid: ctx.stub.getTxID(),
        });
        await ctx.stub.putState(key, Buffer.from(record));
        ctx.stub.setEvent('DigestAnchored', Buffer.from(record));
        return record;
    }

    // GetDigests returns every anchored digest of a database, by block id, as a JSON array.
    async GetDigests(ctx, databaseName) {
        if (typeof databaseName !== 'string' || !NAME.test(databaseName)) {
            throw new Error('database_name must be 1 to 128 letters, digits, _ . or -');
        }
        const out = [];
        for await (const { value } of ctx.stub.getStateByPartialCompositeKey(DIGEST, [databaseName])) {
            out.push(JSON.parse(value.toString('utf8')));
        }
        return JSON.stringify(out);
    }
}

module.exports = DigestAnchor;
