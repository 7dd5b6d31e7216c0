/*
 * Misbehaving and probing transactions for Cairn's sandbox tests. None of
 * this is how a contract should be written.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const { Contract } = require('fabric-contract-api');
const leakSloppily = require('./lib/sloppy');

// Module-level state: fresh in every invocation on Cairn.
let calls = 0;

class Sandbox extends Contract {
    async Loop() {
        for (;;) { /* spin */ }
    }

    async LoopAfterAwait(ctx) {
        await ctx.stub.getState('x');
        try {
            for (;;) { /* spin */ }
        } catch (e) {
            // An interrupt cannot be caught.
            await ctx.stub.putState('caught', Buffer.from('yes'));
        }
    }

    async Allocate(ctx, megabytes) {
        await ctx.stub.putState('before', Buffer.from('allocating'));
        const chunks = [];
        const mb = Number(megabytes);
        for (let i = 0; i < mb; i++) {
            chunks.push(new Uint8Array(1024 * 1024).fill(i & 0xff));
        }
        return chunks.length;
    }

    async AllocateOnce(ctx, megabytes) {
        await ctx.stub.putState('before', Buffer.from('allocating'));
        return new ArrayBuffer(Number(megabytes) * 1024 * 1024).byteLength;
    }

    async Recurse(ctx) {
        await ctx.stub.putState('before', Buffer.from('recursing'));
        const down = (n) => down(n + 1) + 1;
        return down(0);
    }

    async BigReturn(ctx, megabytes) {
        return 'x'.repeat(Number(megabytes) * 1024 * 1024);
    }

    async NeverSettles() {
        await new Promise(() => {});
    }

    async Put(ctx, key, value) {
        await ctx.stub.putState(key, Buffer.from(value));
        return value;
    }

    // Everything a contract could use to tell peers or calls apart.
    async Entropy(ctx) {
        const values = {
            now: Date.now(),
            date: new Date().toISOString(),
            dateString: new Date(0).toString(),
            called: Date(),
            localParse: new Date('2024-03-01T12:00:00').toISOString(),
            components: new Date(2024, 2, 1, 12).toISOString(),
            hours: new Date(Date.UTC(2024, 0, 1, 23)).getHours(),
            offset: new Date().getTimezoneOffset(),
            random: [Math.random(), Math.random(), Math.random()],
            txTime: ctx.stub.getDateTimestamp().toISOString(),
            seconds: ctx.stub.getTxTimestamp().seconds.toNumber(),
        };
        await ctx.stub.putState('entropy', Buffer.from(JSON.stringify(values)));
        await ctx.stub.putState('r' + Math.floor(Math.random() * 1e6), Buffer.from('1'));
        return values;
    }

    // Tries to leave traces for the next invocation.
    async Leak(ctx) {
        calls += 1;
        globalThis.leaked = 'global';
        leakSloppily();
        try { Array.prototype.leaked = 'proto'; } catch (e) { /* frozen */ }
        try { Object.prototype.toString = () => 'hijacked'; } catch (e) { /* frozen */ }
        try { JSON.parse = () => 'hijacked'; } catch (e) { /* frozen */ }
        try { Error.prepareStackTrace = () => 'hijacked'; } catch (e) { /* pinned */ }
        try { ctx.stub.constructor.prototype.getState = async () => Buffer.from('hijacked'); } catch (e) { /* frozen */ }
        try { Buffer.prototype.toString = () => 'hijacked'; } catch (e) { /* frozen */ }
        return calls;
    }

    // What the stub and the client identity hold for this invocation's
    // arguments and creator, then the same after changing the buffers.
    async Args(ctx, ...params) {
        const stub = ctx.stub;
        const view = () => ({
            strings: stub.getStringArgs().slice(),
            buffers: stub.getBufferArgs().map((b) => (Buffer.isBuffer(b) ? Array.from(b) : 'not a Buffer')),
        });
        const before = view();
        stub.getBufferArgs()[1][0] = 0x21;
        const creator = stub.getCreator().idBytes;
        const identity = ctx.clientIdentity.getIDBytes();
        const nonce = stub.getSignedProposal().proposal.header.signatureHeader.nonce;
        return {
            params,
            before,
            after: view(),
            creatorPem: Buffer.isBuffer(creator) && creator.toString().split('\n')[0],
            identityPem: Buffer.isBuffer(identity) && identity.equals(creator) && identity !== creator,
            nonce: Buffer.isBuffer(nonce) && nonce.length,
        };
    }

    async Probe(ctx) {
        return {
            calls,
            leaked: typeof leaked,                   // eslint-disable-line no-undef
            sloppy: typeof undeclaredGlobal,         // eslint-disable-line no-undef
            proto: [].leaked === undefined ? 'clean' : 'dirty',
            toString: Object.prototype.toString.call([]) === '[object Array]' ? 'clean' : 'dirty',
            json: JSON.parse('1') === 1 ? 'clean' : 'dirty',
            prepare: Error.prepareStackTrace === undefined ? 'clean' : 'dirty',
            stub: (await ctx.stub.getState('nothing-here')).length === 0 ? 'clean' : 'dirty',
            buffer: Buffer.from('ok').toString() === 'ok' ? 'clean' : 'dirty',
        };
    }

    // Shadowing a frozen built-in on an instance still works (the override mistake is fixed).
    async Override() {
        class MyError extends Error {
            constructor(m) { super(m); this.name = 'MyError'; }
        }
        const o = {};
        o.toString = () => 'custom';
        function Legacy() {}
        Legacy.prototype.toString = function () { return 'legacy'; };
        return [new MyError('x').name, String(o), String(new Legacy())].join(',');
    }

    async Require(ctx, name) {
        try {
            require(name);
            return 'loaded';
        } catch (e) {
            return `${e.code}: ${e.message}`;
        }
    }

    async Globals() {
        return ['process', 'setTimeout', 'setInterval', 'fetch', 'performance', 'WeakRef',
            'FinalizationRegistry', 'SharedArrayBuffer', 'require', 'Buffer', 'TextEncoder', 'console']
            .map((g) => `${g}:${typeof globalThis[g]}`).join(',');
    }

    async NodeProbe() {
        return require('./lib/probe')();
    }

    async Private(ctx) {
        return ctx.stub.getPrivateData('collectionA', 'k');
    }

    async Stash(ctx) {
        // Keeps the stub past the transaction's end; later use must fail.
        Promise.resolve().then(async () => {
            // Enough turns of the job queue for the transaction to finish first.
            for (let i = 0; i < 100; i++) await null;
            try { await ctx.stub.putState('late', Buffer.from('1')); } catch (e) { globalThis.lateError = e.message; }
        });
        return 'stashed';
    }

    async Call(ctx, name, fn, ...args) {
        const res = await ctx.stub.invokeChaincode(name, [fn, ...args], '');
        return { status: res.status, message: res.message, payload: res.payload.toString() };
    }
}

module.exports.contracts = [Sandbox];
