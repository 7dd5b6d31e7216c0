/*
 * Canonical JSON: object keys sorted by UTF-16 code unit (JavaScript's
 * default sort), no white space. Every endorsing peer must write the same
 * bytes for the same record, whatever order its properties were set in;
 * JSON.stringify alone follows insertion order (and puts integer-like keys
 * first), so records are serialized through this instead.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

function canonicalJson(value) {
    if (value === null || typeof value !== 'object') {
        const text = JSON.stringify(value);
        if (text === undefined) {
            // undefined, functions and symbols have no JSON form; a record
            // holding one is a bug in this contract, not in the caller's input.
            throw new Error(`internal error: ${typeof value} has no canonical JSON form`);
        }
        return text;
    }
    if (Array.isArray(value)) {
        return `[${value.map(canonicalJson).join(',')}]`;
    }
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
}

module.exports = { canonicalJson };
