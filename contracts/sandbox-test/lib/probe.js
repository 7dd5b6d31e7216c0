/*
 * Node-compatibility probe: Buffer, TextEncoder/TextDecoder and util as
 * contracts use them. `probe.node.json` holds what Node.js 20 returns:
 *   node -e "console.log(JSON.stringify(require('./lib/probe.js')(), null, 2))" > lib/probe.node.json
 * Cairn must return exactly the same.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const util = require('util');
const { Buffer: B } = require('buffer');

module.exports = function probe() {
    const b = Buffer.from('héllo wörld');
    return {
        sameBuffer: B === Buffer,
        len: b.length,
        hex: b.toString('hex'),
        b64: b.toString('base64'),
        b64url: Buffer.from([251, 255, 0]).toString('base64url'),
        utf8: Buffer.from(b.toString('hex'), 'hex').toString(),
        latin1: Buffer.from('ÿa', 'latin1').toString('hex'),
        fromB64: Buffer.from('aGVs bG8=', 'base64').toString(),
        badHex: Buffer.from('0aFFzz', 'hex').toString('hex'),
        emptyEq: Buffer.alloc(0) == '', // eslint-disable-line eqeqeq
        emptyStr: Buffer.from('').toString() === '',
        json: JSON.stringify(Buffer.from([1, 2])),
        concat: Buffer.concat([Buffer.from('ab'), Buffer.from('cd')]).toString(),
        cmp: [Buffer.compare(Buffer.from('a'), Buffer.from('b')), Buffer.from('b').compare(Buffer.from('a'))],
        equals: Buffer.from('x').equals(Buffer.from('x')),
        slice: b.slice(1, 3).toString('hex'),
        sliceIsView: (() => { const c = Buffer.from('abc'); c.slice(0, 1)[0] = 0x41; return c.toString(); })(),
        subarray: b.subarray(2).length,
        indexOf: [b.indexOf('wör'), b.indexOf(0x6c), b.lastIndexOf('l'), b.includes('xyz')],
        ints: (() => {
            const n = Buffer.from([1, 2, 3, 4, 0xff, 0xfe, 0xfd, 0xfc]);
            return [n.readUInt32BE(0), n.readUInt16LE(1), n.readInt8(4), n.readInt32LE(4), n.readUint8(3), n.readBigUInt64BE(0).toString()];
        })(),
        writeInts: (() => { const w = Buffer.alloc(6); w.writeUInt16BE(0x1234, 0); w.writeInt32LE(-2, 2); return w.toString('hex'); })(),
        write: (() => { const w = Buffer.alloc(6); const n = w.write('hi', 1); return [n, w.toString('hex')]; })(),
        fill: [Buffer.alloc(5, 'ab').toString(), Buffer.alloc(3, 7).toString('hex')],
        isBuffer: [Buffer.isBuffer(b), Buffer.isBuffer(new Uint8Array(1)), Buffer.isEncoding('utf8'), Buffer.isEncoding('nope')],
        byteLength: [Buffer.byteLength('héllo'), Buffer.byteLength('aGVsbG8=', 'base64')],
        copy: (() => { const t = Buffer.alloc(4); const n = Buffer.from('abcd').copy(t, 1, 0, 2); return [n, t.toString('hex')]; })(),
        fromJSON: Buffer.from(JSON.parse(JSON.stringify(Buffer.from('z')))).toString(),
        fromArrayBuffer: Buffer.from(new Uint8Array([9, 8, 7]).buffer, 1, 1).toString('hex'),
        instanceOfUint8Array: b instanceof Uint8Array,
        map: Array.from(Buffer.from('ab').map((x) => x + 1)),
        textEncoder: Array.from(new TextEncoder().encode('€')),
        textEncoderType: new TextEncoder().encode('a') instanceof Buffer,
        textDecoder: new TextDecoder().decode(new Uint8Array([0xe2, 0x82, 0xac])),
        textDecoderBad: new TextDecoder().decode(new Uint8Array([0xff, 0x61])),
        textDecoderBom: new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])).length,
        format: [util.format('%s=%d %j %%', 'a', 42, { x: 1 }), util.format('a', 1, 'b')],
        inspect: util.inspect({ a: [1, 'b'], c: null, 'd-e': undefined }),
        inherits: (() => { function A() {} function C() {} util.inherits(C, A); return new C() instanceof A; })(),
        deepEqual: [util.isDeepStrictEqual({ a: [1] }, { a: [1] }), util.isDeepStrictEqual({ a: 1 }, { a: '1' })],
    };
};
