/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The workload of `cairn bench`: every transaction writes one value under a
 * key no other transaction uses, so transactions never conflict (no MVCC
 * failures) and each one costs the same. The value is 100 bytes unless the
 * caller names another size (`cairn bench --value-bytes`, the sweep's value
 * axis). `cairn bench --private` uses putPrivate: the same write into the
 * private data collection `bench` (defined with the contract), the value
 * passed as transient data. putBatch fills the state with many keys in one
 * transaction (`cairn bench --preload`, the sweep's state axis).
 */

'use strict';

const { Contract } = require('fabric-contract-api');

// The size a value has when the caller names none (what every figure before
// the sweep was measured with).
const VALUE_BYTES = 100;
// The largest value the sweep writes (64 KiB).
const MAX_VALUE_BYTES = 65536;
// Keys one putBatch may write: 2,000 keys of 100 bytes is a ~300 KB write
// set, well inside the sandbox's memory and time limits.
const MAX_BATCH_KEYS = 2000;

// The size argument as a number: VALUE_BYTES when absent, else an integer
// from 1 to MAX_VALUE_BYTES written in decimal digits.
function valueSize(size) {
    if (size === undefined || size === '') {
        return VALUE_BYTES;
    }
    const n = Number(size);
    if (!/^[0-9]+$/.test(size) || !Number.isSafeInteger(n) || n < 1 || n > MAX_VALUE_BYTES) {
        throw new Error(`the value size must be a whole number of bytes from 1 to ${MAX_VALUE_BYTES}, got ${JSON.stringify(size)}`);
    }
    return n;
}

// A whole number argument from 0 to max.
function count(name, text, max) {
    const n = Number(text);
    if (!/^[0-9]+$/.test(text || '') || !Number.isSafeInteger(n) || n > max) {
        throw new Error(`${name} must be a whole number from 0 to ${max}, got ${JSON.stringify(text)}`);
    }
    return n;
}

class BenchKv extends Contract {
    // Writes `value` under `key`; the value must have `size` bytes (100 when
    // `size` is not given). Blind write: no read, so the read set stays
    // empty and validation cost does not grow with the ledger.
    async put(ctx, key, value, size) {
        if (!key) {
            throw new Error('put needs a non-empty key');
        }
        const want = valueSize(size);
        const bytes = Buffer.from(value);
        if (bytes.length !== want) {
            throw new Error(`put needs a ${want}-byte value, got ${bytes.length} bytes`);
        }
        await ctx.stub.putState(key, bytes);
    }

    // Writes the transient `value` under `key` in collection `bench`: only
    // its hashes go into the transaction; member peers get the value. The
    // value must have `size` bytes (100 when not given).
    async putPrivate(ctx, key, size) {
        if (!key) {
            throw new Error('putPrivate needs a non-empty key');
        }
        const want = valueSize(size);
        const value = ctx.stub.getTransient().get('value');
        if (!value || value.length !== want) {
            throw new Error(`putPrivate needs a ${want}-byte transient "value"`);
        }
        await ctx.stub.putPrivateData('bench', key, value);
    }

    // Writes `count` keys `pre-SEED-N` (N from `first`, 12 digits) with
    // `size`-byte values, blind: the state the sweep measures against.
    // Each value repeats its own key, so no two values are equal.
    async putBatch(ctx, seed, first, n, size) {
        if (!/^[A-Za-z0-9]{1,32}$/.test(seed || '')) {
            throw new Error(`putBatch needs a seed of 1 to 32 letters or digits, got ${JSON.stringify(seed)}`);
        }
        const start = count('first', first, Number.MAX_SAFE_INTEGER - MAX_BATCH_KEYS);
        const keys = count('count', n, MAX_BATCH_KEYS);
        const want = valueSize(size);
        for (let i = start; i < start + keys; i++) {
            const key = `pre-${seed}-${String(i).padStart(12, '0')}`;
            const value = `${key};`.repeat(Math.ceil(want / (key.length + 1))).slice(0, want);
            await ctx.stub.putState(key, Buffer.from(value));
        }
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
