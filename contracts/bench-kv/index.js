/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The workload of `cairn bench`: every transaction writes one 100-byte value
 * under a key no other transaction uses, so transactions never conflict
 * (no MVCC failures) and each one costs the same. `cairn bench --private`
 * uses putPrivate: the same write into the private data collection `bench`
 * (defined with the contract), the value passed as transient data.
 */

'use strict';

const { Contract } = require('fabric-contract-api');

const VALUE_BYTES = 100;

class BenchKv extends Contract {
    // Writes `value` under `key`. Blind write: no read, so the read set stays
    // empty and validation cost does not grow with the ledger.
    async put(ctx, key, value) {
        if (!key) {
            throw new Error('put needs a non-empty key');
        }
        const bytes = Buffer.from(value);
        if (bytes.length !== VALUE_BYTES) {
            throw new Error(`put needs a ${VALUE_BYTES}-byte value, got ${bytes.length} bytes`);
        }
        await ctx.stub.putState(key, bytes);
    }

    // Writes the transient `value` under `key` in collection `bench`: only
    // its hashes go into the transaction; member peers get the value.
    async putPrivate(ctx, key) {
        if (!key) {
            throw new Error('putPrivate needs a non-empty key');
        }
        const value = ctx.stub.getTransient().get('value');
        if (!value || value.length !== VALUE_BYTES) {
            throw new Error(`putPrivate needs a ${VALUE_BYTES}-byte transient "value"`);
        }
        await ctx.stub.putPrivateData('bench', key, value);
    }

    // Reads the value under `key` (to check a benchmark run by hand).
    async get(ctx, key) {
        const value = await ctx.stub.getState(key);
        if (!value || value.length === 0) {
            throw new Error(`no value under ${key}`);
        }
        return value.toString();
    }
}

module.exports.contracts = [BenchKv];
