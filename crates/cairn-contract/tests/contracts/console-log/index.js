/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Console output for tests. The transient value "secret" (if any) is what
 * a careless contract might print: Log prints it, Echo only returns it.
 */

'use strict';

const crypto = require('crypto');
const { Contract } = require('fabric-contract-api');

function secret(ctx) {
    const value = ctx.stub.getTransient().get('secret');
    return value ? value.toString() : '';
}

class ConsoleLog extends Contract {
    // Prints a marker at debug level and the transient secret with console.log;
    // returns the secret's SHA-256 (hex), so a caller can see it arrived.
    async Log(ctx, marker) {
        console.debug(`console-debug-line ${marker}`);
        const s = secret(ctx);
        console.log(`transient-seen ${s}`);
        return crypto.createHash('sha256').update(s).digest('hex');
    }

    // Returns the transient secret without printing anything.
    async Echo(ctx) {
        return secret(ctx);
    }

    // One console call of `marker` followed by `size` bytes.
    async Big(ctx, marker, size) {
        console.log(marker + 'x'.repeat(Number(size)));
        return 'ok';
    }

    // `calls` console calls of about 4 KB each.
    async Many(ctx, marker, calls) {
        for (let i = 0; i < Number(calls); i++) {
            console.info(`${marker} ${i} ` + 'y'.repeat(4000));
        }
        return 'ok';
    }
}

module.exports.contracts = [ConsoleLog];
