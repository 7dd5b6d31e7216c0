/*
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const { Contract } = require('fabric-contract-api');

class KeyValue extends Contract {
    async Put(ctx, key, value) {
        await ctx.stub.putState(key, Buffer.from(value));
    }

    async Get(ctx, key) {
        const value = await ctx.stub.getState(key);
        return value.toString();
    }
}

module.exports.contracts = [KeyValue];
