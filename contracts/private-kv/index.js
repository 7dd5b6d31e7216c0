/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Private data collections with Fabric's JavaScript API, for end-to-end
 * tests on a network. Values always come from the transient map (key
 * "value"), so they never appear in a proposal's arguments or a block.
 *
 * AcmeChain (seed 003): writePDC1/writePDC2 and readPDC1/readPDC2.
 * Generic: put/get/hash in any collection, copy from one collection to
 * another (a private read followed by a private write), and setPublic to
 * write public state (to add blocks).
 */

'use strict';

const { Contract } = require('fabric-contract-api');

function transientValue(ctx) {
    const value = ctx.stub.getTransient().get('value');
    if (!value || value.length === 0) {
        throw new Error('pass the value as transient data "value"');
    }
    return value;
}

class PrivateKv extends Contract {
    async writePDC1(ctx, key) { await this.put(ctx, 'PDC1', key); }
    async writePDC2(ctx, key) { await this.put(ctx, 'PDC2', key); }
    async readPDC1(ctx, key) { return this.get(ctx, 'PDC1', key); }
    async readPDC2(ctx, key) { return this.get(ctx, 'PDC2', key); }

    async put(ctx, collection, key) {
        await ctx.stub.putPrivateData(collection, key, transientValue(ctx));
    }

    async get(ctx, collection, key) {
        const value = await ctx.stub.getPrivateData(collection, key);
        if (value.length === 0) throw new Error(`${key} does not exist in ${collection}`);
        return value.toString();
    }

    async hash(ctx, collection, key) {
        return (await ctx.stub.getPrivateDataHash(collection, key)).toString('hex');
    }

    async copy(ctx, from, key, to) {
        const value = await ctx.stub.getPrivateData(from, key);
        if (value.length === 0) throw new Error(`${key} does not exist in ${from}`);
        await ctx.stub.putPrivateData(to, key, value);
    }

    async setPublic(ctx, key, value) {
        await ctx.stub.putState(key, Buffer.from(value));
    }
}

module.exports.contracts = [PrivateKv];
