/*
 * A second contract in the same package, reached as `audit:<function>`
 * (Fabric's Contract:Function routing; AssetTransfer stays the default).
 *
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const { Contract } = require('fabric-contract-api');

class AssetAudit extends Contract {
    constructor() {
        super('audit');
    }

    async beforeTransaction(ctx) {
        ctx.calls = ['before'];
    }

    async afterTransaction(ctx, result) {
        ctx.calls.push('after');
    }

    // CountAssets counts the simple (non-composite) keys, i.e. the assets.
    async CountAssets(ctx) {
        ctx.calls.push('CountAssets');
        let count = 0;
        for await (const entry of ctx.stub.getStateByRange('', '')) {
            if (entry.key) {
                count++;
            }
        }
        return { count, calls: ctx.calls.slice() };
    }

    async unknownTransaction(ctx) {
        const { fcn } = ctx.stub.getFunctionAndParameters();
        throw new Error(`audit has no transaction ${fcn}`);
    }
}

module.exports = AssetAudit;
